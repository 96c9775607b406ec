package natsjs_test

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pcs-dev/pcs/transports/natsjs"
)

// A partition body is a plain Arrow IPC stream; its metadata travels in
// headers.
func ExampleEncode() {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "origin", Type: arrow.BinaryTypes.String},
		{Name: "delay", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema,
		strings.NewReader(`[{"origin": "SFO", "delay": 5}, {"origin": "JFK", "delay": null}]`))
	if err != nil {
		panic(err)
	}
	defer rec.Release()

	body, err := natsjs.Encode([]arrow.RecordBatch{rec}, natsjs.EncodeOptions{Compression: natsjs.CompressionZstd})
	if err != nil {
		panic(err)
	}
	meta, err := natsjs.Describe([]arrow.RecordBatch{rec}, "")
	if err != nil {
		panic(err)
	}
	meta.ID = natsjs.PartitionID("flights", 1)
	h := meta.Header()
	fmt.Println(natsjs.HeaderMsgID+":", h.Get(natsjs.HeaderMsgID))
	fmt.Println(natsjs.HeaderRows+":", h.Get(natsjs.HeaderRows))
	fmt.Println(natsjs.CanonicalSchema(schema))

	out, err := natsjs.Decode(body, memory.DefaultAllocator)
	if err != nil {
		panic(err)
	}
	for _, r := range out {
		fmt.Println(r.Column(0), r.Column(1))
		r.Release()
	}
	// Output:
	// Nats-Msg-Id: flights/1
	// Pcs-Rows: 2
	// schema{"origin" utf8 not null, "delay" int64 null}
	// ["SFO" "JFK"] [5 (null)]
}
