package prompts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	c, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang, id string
		vars     Vars
		want     string
	}{
		{"zh-CN", "welcome", Vars{}, "您好，欢迎致电增值业务退订热线。"},
		{"zh-CN", "service-item", Vars{Service: "CRBT", FeeFen: 500, Key: "1"}, "退订彩铃，月费五元，请按一。"},
		{"en-US", "service-item", Vars{Service: "BLUE_DIAMOND", FeeFen: 1000, Key: "2"}, "To cancel Blue Diamond, ten yuan per month, press two."},
		{"zh-CN", "cancel-success", Vars{Code: "40512"}, "退订成功。您的确认码是四零五一二。"},
		{"en-US", "cancel-success", Vars{Code: "907"}, "Your service has been cancelled. Your confirmation code is nine zero seven."},
		{"zh-CN", "confirm-cancel-all", Vars{Count: 12}, "您将退订全部十二项增值业务。确认退订请按1，返回请按2。"},
		{"en-US", "confirm-cancel", Vars{Service: "VRBT", FeeFen: 650}, "You are about to cancel video ring-back tone, six yuan five jiao per month. To confirm, press 1. To go back, press 2."},
	}
	for _, tt := range tests {
		t.Run(tt.lang+"/"+tt.id, func(t *testing.T) {
			clips, err := c.Expand(tt.lang, tt.id, tt.vars)
			if err != nil {
				t.Fatal(err)
			}
			if got := Text(clips); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			for _, cl := range clips {
				if cl.File == "" {
					t.Errorf("clip %q has no file", cl.Text)
				}
			}
		})
	}
}

func TestNumbers(t *testing.T) {
	c, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang string
		n    int64
		want string
	}{
		{"zh-CN", 0, "零"}, {"zh-CN", 10, "十"}, {"zh-CN", 15, "十五"}, {"zh-CN", 20, "二十"},
		{"zh-CN", 105, "一百零五"}, {"zh-CN", 110, "一百一十"}, {"zh-CN", 3020, "三千零二十"},
		{"zh-CN", 120000, "十二万"}, {"zh-CN", 10005, "一万零五"}, {"zh-CN", 15000, "一万五千"},
		{"en-US", 0, "zero"}, {"en-US", 15, "fifteen"}, {"en-US", 42, "forty two"},
		{"en-US", 105, "one hundred five"}, {"en-US", 2000, "two thousand"}, {"en-US", 12345, "twelve thousand three hundred forty five"},
	}
	for _, tt := range tests {
		clips, err := c.Number(tt.lang, tt.n)
		if err != nil {
			t.Fatal(err)
		}
		if got := Text(clips); got != tt.want {
			t.Errorf("%s %d: got %q, want %q", tt.lang, tt.n, got, tt.want)
		}
	}
	if _, err := c.Number("en-US", -1); err == nil {
		t.Error("negative number: want error")
	}
	if _, err := c.Digits("en-US", "12a"); err == nil {
		t.Error("letter in digits: want error")
	}
}

func TestFragmentsCoverExpand(t *testing.T) {
	c, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range c.Languages() {
		files := map[string]bool{}
		for _, f := range c.Fragments(lang) {
			files[f.File] = true
		}
		for _, e := range c.Entries(lang) {
			clips, err := c.Expand(lang, e.ID, Vars{Service: "CRBT", FeeFen: 1234, Key: "1", Code: "0123456789*#", Count: 3, Number: "13800138000"})
			if err != nil {
				t.Fatal(err)
			}
			for _, cl := range clips {
				if !files[cl.File] {
					t.Errorf("%s %s: clip %s has no generated audio", lang, e.ID, cl.File)
				}
			}
		}
	}
}

func TestCatalogsAgree(t *testing.T) {
	c, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err != nil {
		t.Errorf("built-in catalogs disagree:\n%v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "zh-CN.yaml"), []byte("a: 你好{code}\nb: 再见\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "en-US.yaml"), []byte("a: hello\n"), 0o644)
	c, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Check()
	if err == nil {
		t.Fatal("want problems")
	}
	for _, want := range []string{"zh-CN.yaml:2: prompt b: missing in en-US", "en-US.yaml:1: prompt a: placeholders [], but [code] in zh-CN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
}
