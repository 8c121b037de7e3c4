package api

import (
	"testing"

	"github.com/unsubivr/unsubivr"
	"github.com/unsubivr/unsubivr/db"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"TD":               "TD",
		" td  cl ":         "TD CL",
		"ＴＤ　ＣＬ":            "TD CL",
		"ｔｄ\tｃｒｂｔ":         "TD CRBT",
		"td cl。":           "TD CL",
		"!!TD ALL!!":       "TD ALL",
		"退订　全部":            "退订 全部",
		"\ufeffTD\u200bCL": "TDCL",
		"BLUE_DIAMOND":     "BLUE_DIAMOND",
		"":                 "",
		"\r\n":             "",
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseCommand(t *testing.T) {
	for in, want := range map[string]command{
		"TD":              {kind: cmdList},
		"退订":              {kind: cmdList},
		"Stop":            {kind: cmdList},
		"UNSUB":           {kind: cmdList},
		"TD ALL":          {kind: cmdAll},
		"stopall":         {kind: cmdAll},
		"退订全部":            {kind: cmdAll},
		"UNSUB 全部":        {kind: cmdAll},
		"TD CL":           {kind: cmdOne, arg: "CL"},
		"TDCL":            {kind: cmdOne, arg: "CL"},
		"退订视频彩铃":          {kind: cmdOne, arg: "视频彩铃"},
		"td blue_diamond": {kind: cmdOne, arg: "BLUE_DIAMOND"},
		"hello":           {kind: cmdHelp},
		"":                {kind: cmdHelp},
		"T D":             {kind: cmdHelp},
		"0000":            {kind: cmdHelp},
	} {
		if got := parseCommand(in); got != want {
			t.Errorf("parseCommand(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestFindService(t *testing.T) {
	for arg, want := range map[string]string{
		"CRBT": "CRBT", "CL": "CRBT", "彩铃": "CRBT", "COLOUR RING-BACK TONE": "CRBT",
		"LZ": "BLUE_DIAMOND", "BLUE DIAMOND": "BLUE_DIAMOND", "SP": "VRBT", "视频彩铃": "VRBT",
		"GOLD": "", "C": "", "": "",
	} {
		svc, ok := findService(db.DemoServices, arg)
		if ok != (want != "") || svc.Code != want {
			t.Errorf("findService(%q) = %q %v, want %q", arg, svc.Code, ok, want)
		}
	}
}

func TestYuan(t *testing.T) {
	for fen, want := range map[int64]string{0: "0", 500: "5", 550: "5.50", 1005: "10.05", 99: "0.99"} {
		if got := yuan(fen); got != want {
			t.Errorf("yuan(%d) = %q, want %q", fen, got, want)
		}
	}
}

// Every language the hotline speaks has SMS texts.
func TestTextsComplete(t *testing.T) {
	for _, lang := range unsubivr.Languages {
		tx, ok := texts[lang]
		if !ok || tx.help == nil || tx.list == nil || tx.alreadyCancelled == nil || tx.notSubscribed == nil ||
			tx.nothingActive == "" || tx.unknownSubscriber == "" || tx.unknownService == "" {
			t.Errorf("texts for %s incomplete", lang)
		}
	}
}
