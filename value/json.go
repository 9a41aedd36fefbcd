package value

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/prolly"
)

// JSON is how people and scripts hand values to noms-ipfs and read them
// back. The mapping follows DAG-JSON where the two meet, so that what
// `ipfs dag get` shows and what FromJSON reads agree:
//
//	JSON                           value
//	object                         Map with String keys
//	array                          List
//	string                         String
//	number without '.' or exponent Int if it fits int64, else Float
//	other number                   Float (1.0 stays a Float)
//	true, false                    Bool
//	{"/": "<cid>"}                 Ref (the CID of a chunk)
//	{"/": {"bytes": "<base64>"}}   Bytes
//	null                           refused: a value cannot be absent
//
// ToJSON writes the same forms back, so ToJSON(FromJSON(j)) reads back as
// an equal value. Values with no JSON form of their own are written as
// the nearest one or refused (errors wrap ErrNoJSON):
//
//   - Set: an array of its members in order (reads back as a List).
//   - Struct: an object of its fields (reads back as a Map; the struct's
//     name is dropped).
//   - Map with a key that is not a String: refused, since a JSON object
//     key is text, and writing [key, value] pairs would read back as a
//     List, silently another value.
//   - Blob: refused; blobs are files, too large for a JSON document.
//   - Float NaN or ±Inf: refused; JSON has no such numbers.
//   - A Map whose only key is "/": refused, since DAG-JSON reads that
//     object as a link or bytes.

// MaxJSONDepth is how deeply FromJSON and ToJSON nest JSON arrays and
// objects (the top-level one is at depth 1). It bounds recursion on
// untrusted input; real documents are far shallower.
const MaxJSONDepth = 256

// ErrInvalidJSON is wrapped by FromJSON errors about its input: not JSON,
// null, nesting beyond MaxJSONDepth, a number out of range, a duplicate
// object key, or a malformed link or bytes object.
var ErrInvalidJSON = errors.New("invalid JSON value")

// ErrNoJSON is wrapped by ToJSON errors about values that have no JSON form.
var ErrNoJSON = errors.New("value has no JSON form")

// FromJSON reads one JSON document and returns its value, writing the
// chunks of any collections it builds to st. An object becomes a Map built
// in one bulk pass, an array a List built in order. Duplicate keys in an
// object are refused rather than resolved: which one was meant is a guess.
// Errors about the input wrap ErrInvalidJSON; errors of st are returned
// wrapped as they are.
func FromJSON(ctx context.Context, st Store, data []byte) (Value, error) {
	r := &jsonReader{ctx: ctx, st: st}
	dec := newJSONDecoder(data)
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: no value in the input", ErrInvalidJSON)
	}
	if err != nil {
		return nil, syntaxError(err)
	}
	v, err := r.value(dec, tok, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more data after the value at byte %d", ErrInvalidJSON, dec.InputOffset())
	}
	return v, nil
}

func newJSONDecoder(data []byte) *json.Decoder {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers stay text until parsed exactly: no float64 round trip
	return dec
}

type jsonReader struct {
	ctx context.Context
	st  Store
}

// value converts the JSON value that starts with tok; depth is the
// nesting of the arrays and objects around it.
func (r *jsonReader) value(dec *json.Decoder, tok json.Token, depth int) (Value, error) {
	switch t := tok.(type) {
	case bool:
		return Bool(t), nil
	case string:
		return String(t), nil
	case json.Number:
		return parseNumber(string(t))
	case nil:
		return nil, fmt.Errorf("%w: null at byte %d: noms-ipfs has no null (leave the key out, or use false, \"\" or [])",
			ErrInvalidJSON, dec.InputOffset())
	case json.Delim:
		if depth+1 > MaxJSONDepth {
			return nil, fmt.Errorf("%w: nested deeper than %d levels", ErrInvalidJSON, MaxJSONDepth)
		}
		if err := r.ctx.Err(); err != nil {
			return nil, err
		}
		if t == '[' {
			return r.array(dec, depth+1)
		}
		return r.object(dec, depth+1)
	}
	return nil, fmt.Errorf("%w: unexpected token %v", ErrInvalidJSON, tok)
}

// array reads the items after '[' into a List, streaming them into the
// builder so a long array is never held as values.
func (r *jsonReader) array(dec *json.Decoder, depth int) (Value, error) {
	b := prolly.NewBuilder(r.ctx, r.st, prolly.ListShape, nil)
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(err)
		}
		if tok == json.Delim(']') {
			break
		}
		v, err := r.value(dec, tok, depth)
		if err != nil {
			return nil, err
		}
		e, err := encodeOne("list item", v)
		if err != nil {
			return nil, err
		}
		if err := b.Add(prolly.Entry{Value: e}); err != nil {
			return nil, fmt.Errorf("cannot build list: %w", err)
		}
	}
	t, err := b.Done()
	if err != nil {
		return nil, fmt.Errorf("cannot build list: %w", err)
	}
	return listOf(t), nil
}

// object reads the members after '{' into a Map, or into a Ref or Bytes
// if "/" is its only key (DAG-JSON's link and bytes forms).
func (r *jsonReader) object(dec *json.Decoder, depth int) (Value, error) {
	var entries []MapEntry
	seen := map[string]bool{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(err)
		}
		if tok == json.Delim('}') {
			break
		}
		key, ok := tok.(string)
		if !ok { // the decoder checks syntax, so this is only defensive
			return nil, fmt.Errorf("%w: object key %v is not a string", ErrInvalidJSON, tok)
		}
		if seen[key] {
			return nil, fmt.Errorf("%w: duplicate key %q in an object", ErrInvalidJSON, key)
		}
		seen[key] = true
		var v Value
		if key == "/" && len(entries) == 0 {
			// Whether this is a link or bytes depends on what follows, so
			// hold the member's JSON until the object's end is known.
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, syntaxError(err)
			}
			if !dec.More() {
				if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
					return nil, fmt.Errorf("%w: unterminated object", ErrInvalidJSON)
				}
				return slashForm(raw, depth)
			}
			sub := newJSONDecoder(raw)
			first, err := sub.Token()
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalidJSON, err)
			}
			if v, err = r.value(sub, first, depth); err != nil {
				return nil, err
			}
		} else {
			tok, err := dec.Token()
			if err != nil {
				return nil, syntaxError(err)
			}
			if v, err = r.value(dec, tok, depth); err != nil {
				return nil, fmt.Errorf("at key %q: %w", key, err)
			}
		}
		entries = append(entries, MapEntry{Key: String(key), Value: v})
	}
	return NewMap(r.ctx, r.st, entries...)
}

// slashForm reads the member of an object whose only key is "/": a link
// {"/": "<cid>"} or bytes {"/": {"bytes": "<base64>"}}. Anything else is
// refused, as in DAG-JSON, rather than read as a Map that ToJSON could not
// write back unambiguously. depth is the object's.
func slashForm(raw json.RawMessage, depth int) (Value, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		c, err := cid.Decode(s)
		if err != nil {
			return nil, fmt.Errorf("%w: link {\"/\": %q}: not a CID: %w", ErrInvalidJSON, s, err)
		}
		h, err := chunks.HashFromCID(c)
		if err != nil {
			return nil, fmt.Errorf("%w: link {\"/\": %q}: %w", ErrInvalidJSON, s, err)
		}
		return NewRef(h), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err == nil && len(m) == 1 && depth+1 <= MaxJSONDepth {
		if b64, ok := m["bytes"]; ok && json.Unmarshal(b64, &s) == nil {
			// DAG-JSON writes unpadded standard base64; padding is accepted.
			b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
			if err != nil {
				return nil, fmt.Errorf("%w: bytes {\"/\": {\"bytes\": ...}}: %w", ErrInvalidJSON, err)
			}
			return NewBytes(b), nil
		}
	}
	if depth+1 > MaxJSONDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d levels", ErrInvalidJSON, MaxJSONDepth)
	}
	return nil, fmt.Errorf(`%w: an object whose only key is "/" must be a link {"/": "<cid>"} or bytes {"/": {"bytes": "<base64>"}}, not {"/": %.40s}`,
		ErrInvalidJSON, raw)
}

// parseNumber keeps integers exact: a number written without fraction or
// exponent is an Int if it fits, as in DAG-JSON; any other is a Float.
func parseNumber(s string) (Value, error) {
	if !strings.ContainsAny(s, ".eE") {
		i, err := strconv.ParseInt(s, 10, 64)
		if err == nil {
			return Int(i), nil
		}
		if !errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("%w: number %s: %w", ErrInvalidJSON, s, err)
		}
		// Too large for an Int: the nearest Float, as any JSON reader would.
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: number %.40s is out of range", ErrInvalidJSON, s)
	}
	return Float(f), nil
}

// syntaxError wraps a decoder error in ErrInvalidJSON, saying where a
// syntax error is and that a bare io.EOF inside a value means the input
// was cut short.
func syntaxError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%w: %w at byte %d", ErrInvalidJSON, err, se.Offset)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %w", ErrInvalidJSON, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("%w: %w", ErrInvalidJSON, err)
}

// ToJSON returns v as one compact JSON document (see FromJSON for the
// mapping), reading collections' chunks from st. Map entries come in the
// map's key order, struct fields by name, so equal values give equal
// bytes. Errors about v wrap ErrNoJSON.
func ToJSON(ctx context.Context, st Store, v Value) ([]byte, error) {
	w := &jsonWriter{ctx: ctx, st: st}
	if err := w.value(v, 0, ""); err != nil {
		return nil, err
	}
	return w.buf, nil
}

type jsonWriter struct {
	ctx context.Context
	st  Store
	buf []byte
}

// value appends v, which sits inside depth arrays and objects at path
// (for error messages).
func (w *jsonWriter) value(v Value, depth int, path string) error {
	switch v := v.(type) {
	case Bool:
		w.buf = strconv.AppendBool(w.buf, bool(v))
	case Int:
		w.buf = strconv.AppendInt(w.buf, int64(v), 10)
	case Float:
		return w.float(float64(v), path)
	case String:
		return w.string(string(v), path)
	case Bytes:
		if depth+2 > MaxJSONDepth {
			return w.tooDeep(path)
		}
		w.buf = append(w.buf, `{"/":{"bytes":"`...)
		w.buf = base64.RawStdEncoding.AppendEncode(w.buf, []byte(v))
		w.buf = append(w.buf, `"}}`...)
	case Ref:
		if v.Target().IsEmpty() {
			return fmt.Errorf("%w: at %s: Ref to the zero hash (no chunk)", ErrNoJSON, pathOrRoot(path))
		}
		if depth+1 > MaxJSONDepth {
			return w.tooDeep(path)
		}
		w.buf = append(w.buf, `{"/":"`...)
		w.buf = append(w.buf, v.Target().CID().String()...)
		w.buf = append(w.buf, `"}`...)
	case Struct:
		if depth+1 > MaxJSONDepth {
			return w.tooDeep(path)
		}
		w.buf = append(w.buf, '{')
		for i, f := range v.Fields() {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			_ = w.string(f.Name, path) // field names are ASCII identifiers
			w.buf = append(w.buf, ':')
			if err := w.value(f.Value, depth+1, path+"."+f.Name); err != nil {
				return err
			}
		}
		w.buf = append(w.buf, '}')
	case List:
		return w.seq(depth, path, v.All(w.ctx, w.st, 0))
	case Set:
		return w.seq(depth, path, v.All(w.ctx, w.st, nil))
	case Map:
		return w.mapValue(v, depth, path)
	case Blob:
		return fmt.Errorf("%w: at %s: a Blob (%d bytes) is not written as JSON", ErrNoJSON, pathOrRoot(path), v.Len())
	case nil:
		return fmt.Errorf("%w: at %s: absent value (nil)", ErrNoJSON, pathOrRoot(path))
	default:
		return fmt.Errorf("%w: at %s: %T", ErrNoJSON, pathOrRoot(path), v)
	}
	return nil
}

func (w *jsonWriter) tooDeep(path string) error {
	return fmt.Errorf("%w: at %s: nested deeper than %d levels", ErrNoJSON, pathOrRoot(path), MaxJSONDepth)
}

func pathOrRoot(path string) string {
	if path == "" {
		return "the top"
	}
	return path
}

// seq appends the items of a List or Set as an array.
func (w *jsonWriter) seq(depth int, path string, items func(func(Value, error) bool)) error {
	if depth+1 > MaxJSONDepth {
		return w.tooDeep(path)
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	w.buf = append(w.buf, '[')
	i := 0
	for item, err := range items {
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", pathOrRoot(path), err)
		}
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		if err := w.value(item, depth+1, path+"["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
		i++
	}
	w.buf = append(w.buf, ']')
	return nil
}

func (w *jsonWriter) mapValue(m Map, depth int, path string) error {
	if depth+1 > MaxJSONDepth {
		return w.tooDeep(path)
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if m.Len() == 1 {
		// FromJSON reads {"/": ...} as a link or bytes, never as a Map.
		if _, found, err := m.Get(w.ctx, w.st, String("/")); err != nil {
			return fmt.Errorf("cannot read %s: %w", pathOrRoot(path), err)
		} else if found {
			return fmt.Errorf(`%w: at %s: a Map whose only key is "/" reads back as a DAG-JSON link or bytes`, ErrNoJSON, pathOrRoot(path))
		}
	}
	w.buf = append(w.buf, '{')
	first := true
	for e, err := range m.All(w.ctx, w.st, nil) {
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", pathOrRoot(path), err)
		}
		k, ok := e.Key.(String)
		if !ok {
			return fmt.Errorf("%w: at %s: a Map key of kind %s (JSON object keys are strings)", ErrNoJSON, pathOrRoot(path), e.Key.Kind())
		}
		if !first {
			w.buf = append(w.buf, ',')
		}
		first = false
		if err := w.string(string(k), path); err != nil {
			return err
		}
		w.buf = append(w.buf, ':')
		if err := w.value(e.Value, depth+1, KeyPath(path, k)); err != nil {
			return err
		}
	}
	w.buf = append(w.buf, '}')
	return nil
}

// float appends f so that FromJSON reads a Float back: always with a '.'
// or an exponent, in the shortest form that parses to exactly f.
func (w *jsonWriter) float(f float64, path string) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%w: at %s: Float %v (JSON has no NaN or infinity)", ErrNoJSON, pathOrRoot(path), f)
	}
	if f == 0 {
		f = 0 // -0.0 is the same value as 0.0 (see Float)
	}
	start := len(w.buf)
	// encoding/json's choice: plain decimals except for very large or
	// very small magnitudes.
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		w.buf = strconv.AppendFloat(w.buf, f, 'e', -1, 64)
	} else {
		w.buf = strconv.AppendFloat(w.buf, f, 'f', -1, 64)
	}
	if !bytes.ContainsAny(w.buf[start:], ".e") {
		w.buf = append(w.buf, ".0"...)
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// string appends s as a JSON string. Unlike encoding/json it leaves <, >
// and & alone: the output is data, not HTML.
func (w *jsonWriter) string(s, path string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: at %s: String is not valid UTF-8", ErrNoJSON, pathOrRoot(path))
	}
	w.buf = append(w.buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		w.buf = append(w.buf, s[start:i]...)
		switch c {
		case '"', '\\':
			w.buf = append(w.buf, '\\', c)
		case '\n':
			w.buf = append(w.buf, '\\', 'n')
		case '\r':
			w.buf = append(w.buf, '\\', 'r')
		case '\t':
			w.buf = append(w.buf, '\\', 't')
		default:
			w.buf = append(w.buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	w.buf = append(w.buf, s[start:]...)
	w.buf = append(w.buf, '"')
	return nil
}
