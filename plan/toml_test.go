package plan

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type testConfig struct {
	Name    string   `toml:"name"`
	Wait    Duration `toml:"wait"`
	Limit   Size     `toml:"limit"`
	Workers int      `toml:"workers"`
	Inner   struct {
		Flag bool `toml:"flag"`
	} `toml:"inner"`
}

func TestDecodeStrict(t *testing.T) {
	t.Setenv("PCS_TEST_NAME", "from-env")
	t.Setenv("PCS_TEST_EMPTY", "")
	tests := []struct {
		name    string
		src     string
		check   func(t *testing.T, c testConfig)
		wantErr []string // substrings of the error; nil = no error
	}{
		{"units and env", `name = "${PCS_TEST_NAME}"
wait = "250ms"
limit = "64MiB"
workers = 3
[inner]
flag = true
`, func(t *testing.T, c testConfig) {
			if c.Name != "from-env" || time.Duration(c.Wait) != 250*time.Millisecond || c.Limit != 64<<20 || c.Workers != 3 || !c.Inner.Flag {
				t.Errorf("decoded %+v", c)
			}
		}, nil},
		{"default when unset or empty", `name = "${PCS_TEST_UNSET_X:-fallback}-${PCS_TEST_EMPTY:-e}"`, func(t *testing.T, c testConfig) {
			if c.Name != "fallback-e" {
				t.Errorf("name %q", c.Name)
			}
		}, nil},
		{"SI size", `limit = "1MB"`, func(t *testing.T, c testConfig) {
			if c.Limit != 1_000_000 {
				t.Errorf("limit %d", c.Limit)
			}
		}, nil},
		{"unknown key", "name = \"x\"\n[inner]\nflg = true\n", nil, []string{"line 3", `unknown key "inner.flg"`}},
		{"wrong type", "name = \"x\"\nworkers = \"three\"\n", nil, []string{"line 2"}},
		{"bad duration", "wait = \"10 parsecs\"\n", nil, []string{"line 1", "10 parsecs"}},
		{"bad size", "\n\nlimit = \"lots\"\n", nil, []string{"line 3", "lots"}},
		{"unset variable", "name = \"a\"\nwait = \"${PCS_TEST_UNSET_Y}\"\n", nil, []string{"line 2", "PCS_TEST_UNSET_Y"}},
		{"syntax", "name = \n", nil, []string{"line 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c testConfig
			err := DecodeStrict("test.toml", []byte(tt.src), &c)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, c)
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDurationDays(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "0d": 0, "90s": 90 * time.Second, "1h30m": 90 * time.Minute} {
		var d Duration
		if err := d.UnmarshalText([]byte(in)); err != nil || time.Duration(d) != want {
			t.Errorf("%s = %v, %v; want %v", in, time.Duration(d), err, want)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("1.5d")); err == nil {
		t.Error("1.5d accepted")
	}
}
