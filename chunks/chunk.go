package chunks

// MaxChunkSize is the largest chunk any store accepts. Kubo refuses blocks
// over 1 MiB and bitswap moves them badly, so the data model keeps chunks
// near 4 KiB and splits large values; this bound only stops mistakes.
const MaxChunkSize = 1 << 20

// Chunk is an immutable piece of data together with its hash.
type Chunk struct {
	hash     Hash
	data     []byte
	verified bool // hash computed here, so Verify need not hash again
}

// NewChunk returns the chunk holding data, hashing it. The chunk keeps data:
// the caller must not modify it afterwards.
func NewChunk(data []byte) Chunk { return Chunk{hash: Of(data), data: data, verified: true} }

// NewChunkWithHash returns a chunk that claims h is the hash of data without
// checking it. Stores verify such chunks on Put, so it is for data whose hash
// is already known, such as a chunk read back from a trusted cache.
func NewChunkWithHash(h Hash, data []byte) Chunk { return Chunk{hash: h, data: data} }

// Hash returns the chunk's hash.
func (c Chunk) Hash() Hash { return c.hash }

// Data returns the chunk's bytes; the caller must not modify them.
func (c Chunk) Data() []byte { return c.data }

// Size returns the number of bytes in the chunk.
func (c Chunk) Size() int { return len(c.data) }

// IsEmpty reports whether c is the zero Chunk.
func (c Chunk) IsEmpty() bool { return c.hash.IsEmpty() && len(c.data) == 0 }

// Verify checks that the chunk's bytes hash to its hash.
func (c Chunk) Verify() error {
	if c.verified {
		return nil
	}
	if got := Of(c.data); got != c.hash {
		return &HashMismatchError{Want: c.hash, Got: got}
	}
	return nil
}

// HashMismatchError reports data that does not hash to the hash it was
// stored or announced under. It matches ErrHashMismatch with errors.Is.
type HashMismatchError struct {
	Want Hash // the hash the data was stored under
	Got  Hash // the hash of the data actually found
}

func (e *HashMismatchError) Error() string {
	return "chunk data does not match its hash: want " + e.Want.String() + ", data hashes to " + e.Got.String()
}

// Is makes errors.Is(err, ErrHashMismatch) true.
func (e *HashMismatchError) Is(target error) bool { return target == ErrHashMismatch }
