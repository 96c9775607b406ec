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
		{"wrong type", "name = \"x\"\nworkers = \"three\"\n", nil, []string{"workers (line 2", "want an integer, got a string"}},
		{"wrong type in a table", "[inner]\nflag = 1\n", nil, []string{"inner.flag (line 2", "want a boolean (true or false), got an integer"}},
		{"duration without unit", "name = \"x\"\nwait = 5\n", nil, []string{"wait (line 2)", `want a duration like "10s", got an integer (5)`}},
		{"size of the wrong kind", "limit = true\n", nil, []string{"limit (line 1)", "got a boolean"}},
		{"size in bytes", "limit = 4096\n", func(t *testing.T, c testConfig) {
			if c.Limit != 4096 {
				t.Errorf("limit %d", c.Limit)
			}
		}, nil},
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

func TestDeliveryValidation(t *testing.T) {
	base := func() Pipeline {
		return Pipeline{Name: "p", Input: InputConfig{Subjects: []string{"in"}, Component: "c"}, Output: OutputConfig{Subject: "out"},
			Systems: []UseConfig{{Use: "filter"}}}
	}
	for _, tc := range []struct {
		name string
		edit func(p *Pipeline)
		want string // "" = valid
	}{
		{"defaults", func(p *Pipeline) {}, ""},
		{"backoff sets ack_wait", func(p *Pipeline) { p.Delivery.BackOff = []Duration{Duration(time.Second)} }, ""},
		{"ack_wait differs from backoff", func(p *Pipeline) {
			p.Delivery.AckWait, p.Delivery.BackOff = Duration(5*time.Second), []Duration{Duration(time.Second)}
		}, "differs from backoff[0]"},
		{"too many backoffs", func(p *Pipeline) {
			p.Delivery.MaxDeliver, p.Delivery.BackOff = 2, []Duration{Duration(time.Second), Duration(time.Second), Duration(time.Second)}
		}, "more than max_deliver"},
		{"max_ack_pending below max_in_flight", func(p *Pipeline) { p.MaxInFlight, p.Delivery.MaxAckPending = 4, 2 }, "max_ack_pending 2 < max_in_flight 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base()
			tc.edit(&p)
			p.SetDefaults()
			err := p.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if p.Delivery.MaxAckPending != 1000 && p.MaxInFlight == 2 {
					t.Errorf("max_ack_pending default %d", p.Delivery.MaxAckPending)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
