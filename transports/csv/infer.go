package csv

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"

	"github.com/pcs-dev/pcs/transports/internal/textinfer"
)

// colInfer accumulates what the values of one column can be.
type colInfer struct {
	seen                   int
	isInt, isFloat, isBool bool
	temporal               textinfer.Temporal // dates, ISO 8601 / RFC 3339 timestamps
	layouts                []bool             // per textinfer.Layouts: every value parses
}

func newColInfer() *colInfer {
	c := &colInfer{isInt: true, isFloat: true, isBool: true, layouts: make([]bool, len(textinfer.Layouts))}
	for i := range c.layouts {
		c.layouts[i] = true
	}
	return c
}

// add takes one non-null cell into account.
func (c *colInfer) add(v string) {
	c.seen++
	if c.isInt {
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			c.isInt = false
		}
	}
	if c.isFloat && !c.isInt {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			c.isFloat = false
		}
	}
	if c.isBool {
		switch v {
		case "true", "false", "True", "False", "TRUE", "FALSE":
		default:
			c.isBool = false
		}
	}
	c.temporal.Add(v)
	for i, ok := range c.layouts {
		if ok {
			if _, err := time.Parse(textinfer.Layouts[i].Format, v); err != nil {
				c.layouts[i] = false
			}
		}
	}
}

// result returns the column's type, and the layout to convert it with
// (-1: arrow-go reads the type itself).
func (c *colInfer) result() (arrow.DataType, int) {
	switch {
	case c.seen == 0:
		return arrow.BinaryTypes.String, -1
	case c.isInt:
		return arrow.PrimitiveTypes.Int64, -1
	case c.isFloat:
		return arrow.PrimitiveTypes.Float64, -1
	case c.isBool:
		return arrow.FixedWidthTypes.Boolean, -1
	}
	if dt, ok := c.temporal.Type(); ok {
		return dt, -1
	}
	for i, ok := range c.layouts {
		if ok {
			if textinfer.Layouts[i].Date {
				return arrow.FixedWidthTypes.Date32, i
			}
			return &arrow.TimestampType{Unit: textinfer.TimestampUnit}, i
		}
	}
	return arrow.BinaryTypes.String, -1
}

// supported reports whether the Source can read and the Sink can write
// columns of type dt.
func supported(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.BOOL,
		arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64,
		arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY, arrow.FIXED_SIZE_BINARY,
		arrow.DATE32, arrow.DATE64, arrow.DECIMAL128, arrow.DECIMAL256:
		return true
	case arrow.TIMESTAMP:
		_, err := dt.(*arrow.TimestampType).GetZone()
		return err == nil
	}
	return false
}

// checkSupported returns ErrUnsupportedType (wrapped, naming the column)
// for the first column of schema that the package cannot read or write.
func checkSupported(schema *arrow.Schema) error {
	return textinfer.CheckSchema(schema, supported, ErrUnsupportedType)
}

// checkCell parses v as arrow-go's CSV reader parses a cell of type dt
// (or as the Source converts a temporal column with tp), and returns the
// error it would meet. It is used to find a bad cell after a read failed.
func checkCell(dt arrow.DataType, tp *textinfer.TimeParser, v string) error {
	if tp != nil {
		_, err := tp.Parse(v)
		return err
	}
	var err error
	switch dt := dt.(type) {
	case *arrow.BooleanType:
		_, err = strconv.ParseBool(v)
	case *arrow.Int8Type:
		_, err = strconv.ParseInt(v, 10, 8)
	case *arrow.Int16Type:
		_, err = strconv.ParseInt(v, 10, 16)
	case *arrow.Int32Type:
		_, err = strconv.ParseInt(v, 10, 32)
	case *arrow.Int64Type:
		_, err = strconv.ParseInt(v, 10, 64)
	case *arrow.Uint8Type:
		_, err = strconv.ParseUint(v, 10, 8)
	case *arrow.Uint16Type:
		_, err = strconv.ParseUint(v, 10, 16)
	case *arrow.Uint32Type:
		_, err = strconv.ParseUint(v, 10, 32)
	case *arrow.Uint64Type:
		_, err = strconv.ParseUint(v, 10, 64)
	case *arrow.Float16Type, *arrow.Float32Type:
		_, err = strconv.ParseFloat(v, 32)
	case *arrow.Float64Type:
		_, err = strconv.ParseFloat(v, 64)
	case *arrow.Date32Type, *arrow.Date64Type:
		_, err = time.Parse(time.DateOnly, v)
	case *arrow.TimestampType:
		if textinfer.IsInteger(v) {
			return nil // arrow-go takes integers as raw values
		}
		loc, zerr := dt.GetZone()
		if zerr != nil {
			return zerr
		}
		var zone bool
		_, zone, err = arrow.TimestampFromStringInLocation(v, dt.Unit, loc)
		if err == nil && zone != (dt.TimeZone != "") {
			if zone {
				err = fmt.Errorf("the value has a zone offset and the type has no time zone")
			} else {
				err = fmt.Errorf("the value has no zone offset and the type has time zone %q", dt.TimeZone)
			}
		}
	case *arrow.Decimal128Type:
		_, err = decimal128.FromString(v, dt.Precision, dt.Scale)
	case *arrow.Decimal256Type:
		_, err = decimal256.FromString(v, dt.Precision, dt.Scale)
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		_, err = base64.StdEncoding.DecodeString(v)
	case *arrow.FixedSizeBinaryType:
		var b []byte
		if b, err = base64.StdEncoding.DecodeString(v); err == nil && len(b) != dt.ByteWidth {
			err = fmt.Errorf("%d bytes, want %d", len(b), dt.ByteWidth)
		}
	}
	return err
}

// headerName returns the name of column i given its header cell.
func headerName(cell string, i int) string {
	if strings.TrimSpace(cell) == "" {
		return fmt.Sprintf("f%d", i)
	}
	return cell
}
