package parquet

import "testing"

func TestEscapePathName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain value-1_2.3 ok", "plain value-1_2.3 ok"},
		{"us/east", "us%2Feast"},
		{"a=b%c", "a%3Db%25c"},
		{`"#'*:?\[]^{}`, "%22%23%27%2A%3A%3F%5C%5B%5D%5E%7B%7D"},
		{"nul\x00tab\tdel\x7f", "nul%00tab%09del%7F"},
		{"café ü 日本", "café ü 日本"},
		{"bad\xffutf8", "bad%FFutf8"},
		{"zero\u200bwidth", "zero%E2%80%8Bwidth"}, // non-printable (format) character
		{"..", ".."},
	} {
		got := escapePathName(tc.in)
		if got != tc.want {
			t.Errorf("escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if back := unescapePathName(got); back != tc.in {
			t.Errorf("unescape(%q) = %q, want %q", got, back, tc.in)
		}
	}
	for in, want := range map[string]string{"50%": "50%", "%zz": "%zz", "%4": "%4", "%41%": "A%"} {
		if got := unescapePathName(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
