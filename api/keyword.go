package api

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/unsubivr/unsubivr"
)

// SMS keywords (docs/sms.md). Compared after normalize.
var (
	// keywords start an unsubscribe command. Alone they list the
	// sender's active services.
	keywords = []string{"TD", "退订", "STOP", "UNSUB"}
	// allWords after a keyword cancel every active service.
	allWords = []string{"ALL", "全部"}
)

// Kinds of command.
const (
	cmdHelp = iota // not a command: answer with help
	cmdList        // keyword alone
	cmdOne         // keyword and a service
	cmdAll         // keyword and ALL
)

// command is what an SMS text asks for.
type command struct {
	kind int
	arg  string // cmdOne: the service as written, normalized
}

// parseCommand reads an SMS text: a keyword, alone, followed by ALL or
// by a service (its code, short name or name), with or without a space
// between ("TDCL", "退订彩铃"). Anything else is cmdHelp.
func parseCommand(text string) command {
	n := normalize(text)
	for _, kw := range keywords {
		rest, ok := strings.CutPrefix(n, kw)
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		switch {
		case rest == "":
			return command{kind: cmdList}
		case contains(allWords, rest):
			return command{kind: cmdAll}
		}
		return command{kind: cmdOne, arg: rest}
	}
	return command{kind: cmdHelp}
}

// normalize folds an SMS text for matching: full-width ASCII forms
// (Ｔ, ｄ, ＡＬＬ) and the ideographic space to their ASCII forms, other
// spaces to a space, invisible format characters (zero-width space, BOM)
// and controls dropped, upper case, runs of spaces collapsed, and spaces
// and punctuation trimmed from both ends ("td cl。" → "TD CL").
func normalize(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\u3000':
			return ' '
		case r >= '\uFF01' && r <= '\uFF5E':
			return r - 0xFEE0
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(strings.ToUpper(s)), " ")
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) })
}

// findService returns the service of catalogue that arg (normalized)
// names: by code, short name, Chinese or English name.
func findService(catalogue []unsubivr.Service, arg string) (unsubivr.Service, bool) {
	for _, svc := range catalogue {
		for _, name := range []string{svc.Code, svc.ShortName, svc.NameZh, svc.NameEn} {
			if name != "" && normalize(name) == arg {
				return svc, true
			}
		}
	}
	return unsubivr.Service{}, false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// replyCode is what to send after TD to cancel svc: its short name, or
// its code if it has none.
func replyCode(svc unsubivr.Service) string {
	if svc.ShortName != "" {
		return strings.ToUpper(svc.ShortName)
	}
	return svc.Code
}

// smsTexts are the replies of one language. A cancel's reply is
// db.ConfirmationText, the confirmation SMS itself.
type smsTexts struct {
	prefix            string // before every reply: the sender's signature
	nothingActive     string
	unknownSubscriber string
	unknownService    string // put before help
	help              func(catalogue []unsubivr.Service) string
	list              func(active []unsubivr.Service) string
	alreadyCancelled  func(svc unsubivr.Service, code string) string
	notSubscribed     func(svc unsubivr.Service) string
}

// texts are the replies by language; every unsubivr.Languages entry has
// one.
var texts = map[unsubivr.Language]smsTexts{
	unsubivr.ZhCN: {
		prefix:            "【退订服务】",
		nothingActive:     "您当前没有可退订的增值业务。",
		unknownSubscriber: "本号码未订购增值业务，无需退订。",
		unknownService:    "未识别的业务代码。",
		help:              helpZh,
		list: func(active []unsubivr.Service) string {
			items := make([]string, len(active))
			for i, svc := range active {
				items[i] = svc.NameZh + "（" + feeZh(svc.MonthlyFeeFen) + "/月），回复TD " + replyCode(svc) + "退订"
			}
			return "您已订购：" + strings.Join(items, "；") + "。回复TD ALL退订全部。"
		},
		alreadyCancelled: func(svc unsubivr.Service, code string) string {
			if code == "" {
				return "您的" + svc.NameZh + "已于此前退订。"
			}
			return "您的" + svc.NameZh + "已于此前退订，确认码" + code + "。"
		},
		notSubscribed: func(svc unsubivr.Service) string {
			return "您未订购" + svc.NameZh + "，无需退订。回复TD查询您已订购的业务。"
		},
	},
	unsubivr.EnUS: {
		nothingActive:     "You have no value-added services to cancel.",
		unknownSubscriber: "This number has no value-added services; there is nothing to cancel.",
		unknownService:    "Unknown service code. ",
		help:              helpEn,
		list: func(active []unsubivr.Service) string {
			items := make([]string, len(active))
			for i, svc := range active {
				items[i] = svc.Name(unsubivr.EnUS) + " (" + feeEn(svc.MonthlyFeeFen) + "/month): reply TD " + replyCode(svc) + " to cancel"
			}
			return "Your services: " + strings.Join(items, "; ") + ". Reply TD ALL to cancel all."
		},
		alreadyCancelled: func(svc unsubivr.Service, code string) string {
			if code == "" {
				return "Your " + svc.Name(unsubivr.EnUS) + " was cancelled before."
			}
			return "Your " + svc.Name(unsubivr.EnUS) + " was cancelled before. Confirmation code " + code + "."
		},
		notSubscribed: func(svc unsubivr.Service) string {
			return "You do not have " + svc.Name(unsubivr.EnUS) + ". Reply TD to list your services."
		},
	},
}

func helpZh(catalogue []unsubivr.Service) string {
	codes := make([]string, len(catalogue))
	for i, svc := range catalogue {
		codes[i] = svc.NameZh + replyCode(svc)
	}
	return "回复TD查询您已订购的业务；回复TD加业务代码退订一项（" + strings.Join(codes, "、") +
		"），如TD " + exampleCode(catalogue) + "；回复TD ALL退订全部。"
}

func helpEn(catalogue []unsubivr.Service) string {
	codes := make([]string, len(catalogue))
	for i, svc := range catalogue {
		codes[i] = replyCode(svc) + " " + svc.Name(unsubivr.EnUS)
	}
	return "Reply TD to list your services, TD and a service code to cancel one (" + strings.Join(codes, ", ") +
		"), e.g. TD " + exampleCode(catalogue) + ", or TD ALL to cancel all."
}

func exampleCode(catalogue []unsubivr.Service) string {
	if len(catalogue) == 0 {
		return "CRBT"
	}
	return replyCode(catalogue[0])
}

// feeZh reads a fee in fen as yuan: "5元", "5.50元".
func feeZh(fen int64) string { return yuan(fen) + "元" }

// feeEn reads a fee in fen as yuan: "5 yuan", "5.50 yuan".
func feeEn(fen int64) string { return yuan(fen) + " yuan" }

func yuan(fen int64) string {
	s := strconv.FormatInt(fen/100, 10)
	if c := fen % 100; c != 0 {
		s += "." + strconv.FormatInt(100+c, 10)[1:]
	}
	return s
}
