package textinfer

import (
	"testing"

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
