// Command call places one scripted SIP call with SIPp, for trying the
// hotline by hand: scripts/call [flags] "t 1 1 h".
//
// Script tokens are those of `unsubivr simulate`: a string of keys, "t" to
// stay silent until the IVR's timeout, "h" to hang up. Keys barge in, so
// each token is sent --gap after the previous one (long enough for the
// next prompt to have started); "t" waits --silence instead. Without a
// final "h" the call waits for the IVR to hang up.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/unsubivr/unsubivr/internal/sipcall"
)

func main() {
	exten := flag.String("exten", "10086", "number to dial (10087*NUMBER*AGENT*SERVICE for an agent transfer)")
	from := flag.String("from", sipcall.DefaultFrom, `caller ID ("anonymous" for none)`)
	gap := flag.Duration("gap", 3*time.Second, "wait before each key token")
	silence := flag.Duration("silence", 12*time.Second, `how long "t" stays silent`)
	info := flag.Bool("info", false, "send keys as SIP INFO instead of RFC 4733")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, `usage: scripts/call [flags] "t 1 1 h"`)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	steps, err := sipcall.ScriptSteps(flag.Arg(0), func(i int, tok string) time.Duration {
		if tok == "t" {
			return *silence
		}
		return *gap
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "call:", err)
		os.Exit(2)
	}
	c := sipcall.Call{Exten: *exten, From: *from, Steps: steps, MaxWait: 2 * time.Minute}
	if *info {
		c.Mode = sipcall.SIPInfo
	}
	res, err := (&sipcall.Client{Logf: func(f string, a ...any) { fmt.Printf(f+"\n", a...) }}).Place(context.Background(), c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "call:", err)
		os.Exit(1)
	}
	who := "we hung up"
	if res.FarEndHangup {
		who = "the IVR hung up"
	}
	fmt.Printf("answered=%v status=%d duration=%v keys=%q (%s)\n", res.Answered, res.Status, res.Duration.Round(time.Millisecond), res.Plan.Digits(), who)
}
