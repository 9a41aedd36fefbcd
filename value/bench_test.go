package value

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

func benchValues(b *testing.B) []struct {
	name string
	v    Value
} {
	person := mustStruct(b, "Person", map[string]Value{
		"name":  String("Ada Lovelace"),
		"born":  Int(1815),
		"score": Float(97.5),
		"photo": NewRef(h1),
		"tags":  NewSetHeader(12, h2),
	})
	return []struct {
		name string
		v    Value
	}{
		{"Int", Int(1 << 40)},
		{"Float", Float(3.25)},
		{"String32", String(strings.Repeat("x", 32))},
		{"Ref", NewRef(h1)},
		{"Map", NewMapHeader(1000, h1)},
		{"Struct5", person},
	}
}

// BenchmarkEncodeDecode measures one AppendEncode into a reused buffer
// plus one Decode.
func BenchmarkEncodeDecode(b *testing.B) {
	for _, bv := range benchValues(b) {
		b.Run(bv.name, func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				buf, err = AppendEncode(buf[:0], bv.v)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Decode(buf); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func BenchmarkCompareEncoded(b *testing.B) {
	s1 := mustStruct(b, "P", map[string]Value{"a": Int(1), "b": String("x")})
	s2 := mustStruct(b, "P", map[string]Value{"a": Int(2), "b": String("x")})
	pairs := []struct {
		name string
		a, b Value
	}{
		{"Int", Int(123456), Int(-987654321)},
		{"IntFloat", Int(1 << 53), Float(0x1p53 + 2)},
		{"Float", Float(1.5), Float(-2.25)},
		{"String32", String(strings.Repeat("k", 31) + "a"), String(strings.Repeat("k", 31) + "b")},
		{"Bytes", Bytes("key-0001"), Bytes("key-0002")},
		{"Ref", NewRef(h1), NewRef(h2)},
		{"KindsDiffer", Int(1), String("a")},
		{"StructByHash", s1, s2},
	}
	for _, p := range pairs {
		ea, eb := mustEncode(b, p.a), mustEncode(b, p.b)
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				CompareEncoded(ea, eb)
			}
		})
	}
}

func BenchmarkCompare(b *testing.B) {
	b.Run("String32", func(b *testing.B) {
		// Boxed once outside the loop: the cost of making an interface
		// value is the caller's, not Compare's.
		var x, y Value = String(strings.Repeat("k", 31) + "a"), String(strings.Repeat("k", 31) + "b")
		b.ReportAllocs()
		for b.Loop() {
			Compare(x, y)
		}
	})
	b.Run("IntFloat", func(b *testing.B) {
		var x, y Value = Int(1 << 53), Float(0x1p53 + 2)
		b.ReportAllocs()
		for b.Loop() {
			Compare(x, y)
		}
	})
	b.Run("StructByHash", func(b *testing.B) {
		var x, y Value = Struct{}.Set("a", Int(1)), Struct{}.Set("a", Int(2))
		b.ReportAllocs()
		for b.Loop() {
			Compare(x, y)
		}
	})
}

func BenchmarkHashOf(b *testing.B) {
	for _, bv := range benchValues(b) {
		b.Run(bv.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				HashOf(bv.v)
			}
		})
	}
}

// BenchmarkMapBulkVsOneByOne: 10,000 entries built in one bulk pass beside
// the same entries set one at a time.
func BenchmarkMapBulkVsOneByOne(b *testing.B) {
	ctx := context.Background()
	const n = 10000
	entries := make([]MapEntry, n)
	for i := range entries {
		entries[i] = MapEntry{Key: String(fmt.Sprintf("key%08d", i*7919%n)), Value: Int(int64(i))}
	}
	b.Run("bulk", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := NewMap(ctx, chunks.NewMemoryStore(), entries...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("one-by-one", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			st := chunks.NewMemoryStore()
			var m Map
			for _, e := range entries {
				var err error
				if m, err = m.Set(ctx, st, e.Key, e.Value); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
