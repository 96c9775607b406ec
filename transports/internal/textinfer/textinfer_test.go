package textinfer

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestTemporal(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   arrow.DataType // nil: not temporal
	}{
		{"none", nil, nil},
		{"dates", []string{"2012-01-01", "2015-12-31"}, arrow.FixedWidthTypes.Date32},
		{"zoned", []string{"2001-01-01T00:00:00Z", "2001-01-01T01:00:00+02:00"}, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{"naive", []string{"2001-01-01 00:00:00", "2001-01-01T01:00:00"}, &arrow.TimestampType{Unit: arrow.Microsecond}},
		{"nanos", []string{"2001-01-01T00:00:00.123456789Z"}, &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
		{"date then timestamp", []string{"2012-01-01", "2012-01-01T00:00:00"}, &arrow.TimestampType{Unit: arrow.Microsecond}},
		{"mixed zones", []string{"2001-01-01T00:00:00Z", "2001-01-01T00:00:00"}, nil},
		{"integers", []string{"20010101"}, nil},
		{"text", []string{"2001-01-01", "soon"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tm Temporal
			for _, v := range tt.values {
				tm.Add(v)
			}
			got, ok := tm.Type()
			if ok != (tt.want != nil) || ok && !arrow.TypeEqual(got, tt.want) {
				t.Errorf("Type() = %v, %v; want %v", got, ok, tt.want)
			}
		})
	}
}

func TestTimeParser(t *testing.T) {
	d32, err := NewTimeParser(arrow.FixedWidthTypes.Date32)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range Layouts {
		v := time.Date(2000, 1, 2, 3, 4, 5, 0, time.UTC).Format(l.Format)
		if got, err := d32.Parse(v); err != nil || got != 10958 {
			t.Errorf("layout %q: %q -> %d, %v; want 10958", l.Format, v, got, err)
		}
	}
	if _, err := d32.Parse("3000000000"); err == nil || !strings.Contains(err.Error(), "range of date32") {
		t.Errorf("days beyond int32: %v", err)
	}
	if _, err := d32.Parse("01/02/2000"); err == nil || !strings.Contains(err.Error(), `"Jan 2 2006"`) {
		t.Errorf("ambiguous layout: %v, want an error listing the layouts", err)
	}
	if _, err := NewTimeParser(arrow.BinaryTypes.String); err == nil {
		t.Error("a parser for utf8")
	}
}
