package merge

import (
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/noms-ipfs/noms-ipfs/value"
)

func keyPath(path string, k value.Value) string { return value.KeyPath(path, k) }

// maxDescribed bounds the text Describe writes for one value: conflicts
// are printed for people, and a megabyte string helps nobody.
const maxDescribed = 80

// Describe returns a short human-readable text for v: primitives as
// literals (long ones cut), collections by kind, size and hash, structs by
// name and fields; "(absent)" for nil. It reads no chunks.
func Describe(v value.Value) string {
	return describe(v, 0)
}

func describe(v value.Value, depth int) string {
	switch v := v.(type) {
	case nil:
		return "(absent)"
	case value.Bool:
		return strconv.FormatBool(bool(v))
	case value.Int:
		return strconv.FormatInt(int64(v), 10)
	case value.Float:
		s := strconv.FormatFloat(float64(v), 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEnN") { // keep it visibly a Float
			s += ".0"
		}
		return s
	case value.String:
		return strconv.Quote(cut(string(v)))
	case value.Bytes:
		b := v.Bytes()
		s := "0x" + hex.EncodeToString(b[:min(len(b), maxDescribed/2)])
		if len(b) > maxDescribed/2 {
			s += "..."
		}
		return s
	case value.Ref:
		return "Ref #" + v.Target().String()
	case value.List:
		return "List(" + strconv.FormatUint(v.Len(), 10) + " items) #" + value.HashOf(v).String()
	case value.Map:
		return "Map(" + strconv.FormatUint(v.Len(), 10) + " entries) #" + value.HashOf(v).String()
	case value.Set:
		return "Set(" + strconv.FormatUint(v.Len(), 10) + " members) #" + value.HashOf(v).String()
	case value.Blob:
		return "Blob(" + strconv.FormatUint(v.Len(), 10) + " bytes) #" + value.HashOf(v).String()
	case value.Struct:
		name := v.Name()
		if name == "" {
			name = "struct"
		}
		if depth > 0 {
			return name + "{" + strconv.Itoa(v.Len()) + " fields}"
		}
		var b strings.Builder
		b.WriteString(name + "{")
		for i, f := range v.Fields() {
			if b.Len() > maxDescribed {
				b.WriteString(", ...")
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(f.Name + ": " + describe(f.Value, depth+1))
		}
		b.WriteString("}")
		return b.String()
	default:
		return v.Kind().String()
	}
}

func cut(s string) string {
	if len(s) <= maxDescribed {
		return s
	}
	// Cut on a rune boundary so the quoted text stays valid UTF-8.
	i := maxDescribed
	for i > 0 && i < len(s) && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "..."
}
