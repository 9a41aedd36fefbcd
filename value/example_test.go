package value_test

import (
	"fmt"
	"slices"

	"github.com/noms-ipfs/noms-ipfs/value"
)

func ExampleEncode() {
	ada, err := value.NewStruct("Person", map[string]value.Value{
		"name": value.String("Ada"),
		"born": value.Int(1815),
	})
	if err != nil {
		panic(err)
	}
	b, err := value.Encode(ada)
	if err != nil {
		panic(err)
	}
	// {"struct": ["Person", {"born": 1815, "name": "Ada"}]}, fields in
	// DAG-CBOR key order.
	fmt.Printf("%x\n", b)

	back, err := value.Decode(b)
	if err != nil {
		panic(err)
	}
	fmt.Println("round trip equal:", value.Equal(back, ada))

	// Every value has a place in one order: kinds first, numbers by exact
	// value whatever their type (an Int before an equal Float), structs
	// and collections last, by hash.
	vals := []value.Value{ada, value.String("Ada"), value.Float(1815), value.Int(1815),
		value.Bool(true), value.Float(-0.5), value.NewBytes([]byte("Ada"))}
	slices.SortFunc(vals, value.Compare)
	for _, v := range vals {
		if s, ok := v.(value.Struct); ok {
			fmt.Println(v.Kind(), s.Name())
			continue
		}
		fmt.Println(v.Kind(), v)
	}
	// Output:
	// a1667374727563748266506572736f6ea264626f726e190717646e616d6563416461
	// round trip equal: true
	// Bool true
	// Float -0.5
	// Int 1815
	// Float 1815
	// String Ada
	// Bytes Ada
	// Struct Person
}
