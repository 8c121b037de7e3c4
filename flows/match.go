package flows

import "strings"

// DTMFKeys are the keys of a telephone keypad.
const DTMFKeys = "0123456789*#ABCD"

// MenuMatcher returns a matcher for a menu offering keys: each option is
// one key or a fixed key string ("1", "0", "*", "11"). A prefix of an option
// is Incomplete, an option Complete, anything else Invalid.
func MenuMatcher(keys []string) func(string) MatchResult {
	return func(digits string) MatchResult {
		if digits == "" {
			return Incomplete
		}
		prefix := false
		for _, k := range keys {
			if digits == k {
				return Complete
			}
			if strings.HasPrefix(k, digits) {
				prefix = true
			}
		}
		if prefix {
			return Incomplete
		}
		return Invalid
	}
}

// LengthMatcher returns a matcher for a number of min to max digits (0-9),
// optionally ended by terminator. Without a terminator the answer is
// Complete once max digits are in. With one, it is Complete only when the
// terminator follows min to max digits, so that the terminator is never
// left over to answer the next question; a caller who stops at max digits
// without it is accepted when the inter-digit timeout strikes (see
// LengthOK). Any non-digit other than the terminator, more than max digits,
// or a terminator too early is Invalid.
func LengthMatcher(min, max int, terminator string) func(string) MatchResult {
	return func(digits string) MatchResult {
		body := digits
		terminated := false
		if terminator != "" && strings.HasSuffix(digits, terminator) {
			body = strings.TrimSuffix(digits, terminator)
			terminated = true
		}
		for _, r := range body {
			if r < '0' || r > '9' {
				return Invalid
			}
		}
		switch {
		case len(body) > max:
			return Invalid
		case terminated && len(body) < min:
			return Invalid
		case terminated, terminator == "" && len(body) == max:
			return Complete
		}
		return Incomplete
	}
}

// LengthOK reports whether digits, cut off by a timeout, still make an
// acceptable answer: min to max digits 0-9 and nothing else.
func LengthOK(min, max int, digits string) bool {
	if len(digits) < min || len(digits) > max {
		return false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// StripTerminator returns digits without a trailing terminator.
func StripTerminator(digits, terminator string) string {
	if terminator == "" {
		return digits
	}
	return strings.TrimSuffix(digits, terminator)
}
