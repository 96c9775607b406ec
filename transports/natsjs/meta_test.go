package natsjs_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pcs-dev/pcs/transports/natsjs"
)

func TestMetaHeaderRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 3, 8, 0, 0, 123456789, time.UTC)
	cases := map[string]natsjs.Meta{
		"minimal": {ID: "src/1", Rows: 0},
		"full": {
			ID:        natsjs.OutputID("clean", "src/7", 2),
			Rows:      8192,
			Schema:    natsjs.Fingerprint(flightsSchema),
			EventMin:  ts,
			EventMax:  ts.Add(time.Hour),
			Watermark: ts.Add(30 * time.Minute),
			Object: &natsjs.ObjectRef{
				Bucket: "pcs-objects",
				Name:   "clean/src/7/2@0011223344556677",
				Digest: "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=",
				Size:   20 << 20,
			},
			Lineage: []string{"src/7", "src/8"},
		},
		"name with spaces": {
			ID:   "a/1",
			Rows: 1,
			Object: &natsjs.ObjectRef{
				Bucket: "b_1", Name: "x y/z w", Digest: "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=", Size: 1,
			},
		},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			h := m.Header()
			got, err := natsjs.ParseMeta(h)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("round trip:\n got %+v\nwant %+v\nheaders %v", got, m, h)
			}
		})
	}
	h := cases["full"].Header()
	for k, want := range map[string]string{
		natsjs.HeaderMsgID:     "clean/src/7/2",
		natsjs.HeaderRows:      "8192",
		natsjs.HeaderEventMin:  "2026-11-03T08:00:00.123456789Z",
		natsjs.HeaderWatermark: "2026-11-03T08:30:00.123456789Z",
		natsjs.HeaderLineage:   "src/7,src/8",
		natsjs.HeaderObject:    "pcs-objects/clean/src/7/2@0011223344556677 SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU= 20971520",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if natsjs.HeaderMsgID != "Nats-Msg-Id" {
		t.Errorf("HeaderMsgID = %q", natsjs.HeaderMsgID)
	}
}

func TestParseMetaForeignAndBad(t *testing.T) {
	m, err := natsjs.ParseMeta(nats.Header{"Other": {"x"}})
	if err != nil || m.Rows != -1 || m.ID != "" || m.Object != nil {
		t.Fatalf("foreign message: %+v, %v", m, err)
	}
	if m, err := natsjs.ParseMeta(nil); err != nil || m.Rows != -1 {
		t.Fatalf("nil header: %+v, %v", m, err)
	}
	bad := map[string]nats.Header{
		"rows":      {natsjs.HeaderRows: {"many"}},
		"neg rows":  {natsjs.HeaderRows: {"-1"}},
		"time":      {natsjs.HeaderEventMin: {"yesterday"}},
		"watermark": {natsjs.HeaderWatermark: {"1700000000"}},
		"object":    {natsjs.HeaderObject: {"bucket-only"}},
		"no name":   {natsjs.HeaderObject: {"b/ SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU= 3"}},
		"digest":    {natsjs.HeaderObject: {"b/n MD5=abc 3"}},
		"size":      {natsjs.HeaderObject: {"b/n SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU= big"}},
		"lineage":   {natsjs.HeaderLineage: {"a/1,,a/2"}},
	}
	for name, h := range bad {
		_, err := natsjs.ParseMeta(h)
		if !errors.Is(err, natsjs.ErrBadHeader) || !errors.Is(err, natsjs.ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestIDs(t *testing.T) {
	if got := natsjs.PartitionID("flights-2026", 42); got != "flights-2026/42" {
		t.Errorf("PartitionID = %q", got)
	}
	if got := natsjs.OutputID("clean", "flights-2026/42", 0); got != "clean/flights-2026/42/0" {
		t.Errorf("OutputID = %q", got)
	}
	if got := natsjs.WindowOutputID("hourly", 3, 1207, 1); got != "hourly/w3/1207/1" {
		t.Errorf("WindowOutputID = %q", got)
	}
	for _, id := range []string{"a", "src/1", "p/src/1/0", "ünï/1"} {
		if err := natsjs.ValidateID(id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"", "a,b", "a b", "a\nb", "a\x00", strings.Repeat("x", 1025), "\xff"} {
		if err := natsjs.ValidateID(id); !errors.Is(err, natsjs.ErrBadID) {
			t.Errorf("%q: %v", id, err)
		}
	}
}

func TestParseCompression(t *testing.T) {
	for s, want := range map[string]natsjs.Compression{"": natsjs.CompressionNone, "none": natsjs.CompressionNone, "LZ4": natsjs.CompressionLZ4, "zstd": natsjs.CompressionZstd} {
		got, err := natsjs.ParseCompression(s)
		if err != nil || got != want {
			t.Errorf("%q: %v %v", s, got, err)
		}
		if s != "" && s != "LZ4" && got.String() != s {
			t.Errorf("String %q", got.String())
		}
	}
	if _, err := natsjs.ParseCompression("gzip"); err == nil {
		t.Error("gzip accepted")
	}
}
