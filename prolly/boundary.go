package prolly

import "github.com/cespare/xxhash/v2"

// weibullG returns (s/λ)^4, the Weibull cumulative hazard: F(s) = 1-e^-G(s).
// Every operation is rounded explicitly (float64 conversions) so that no
// compiler fuses them into FMA instructions, which some architectures have
// and others not: the result, hence every cut, is the same everywhere.
func (c *config) weibullG(s int) float64 {
	x := float64(s) / c.lambda
	x2 := float64(x * x)
	return float64(x2 * x2)
}

// cutProbability returns 1-e^-d, the chance that a Weibull-sized node
// alive at s0 bytes ends before s1, where d = G(s1)-G(s0). It uses only
// rounded +, -, *, / (see weibullG): e^-r for r ≤ 1/2 by its Taylor series,
// squared back up for larger d.
func cutProbability(d float64) float64 {
	if d >= 40 { // e^-40 < 2^-57: below the resolution of the hash
		return 1
	}
	if d <= 0 {
		return 0
	}
	halvings := 0
	for d > 0.5 {
		d /= 2
		halvings++
	}
	// e^-d = Σ (-d)^k/k!; 18 terms reach 2^-60 for d ≤ 1/2.
	sum, term := 1.0, 1.0
	for k := 1; k <= 18; k++ {
		term = float64(-term*d) / float64(k)
		sum = float64(sum + term)
	}
	for range halvings {
		sum = float64(sum * sum)
	}
	return float64(1 - sum)
}

// cutAfter decides whether a node at level is cut after an item with the
// given identity bytes that grew it from s0 to s1 bytes.
func (c *chunker) cutAfter(level int, identity []byte, s0, s1 int) bool {
	d := float64(c.cfg.weibullG(s1) - c.cfg.weibullG(s0))
	c.scratch = append(append(c.scratch[:0], byte(level)), identity...)
	u := float64(xxhash.Sum64(c.scratch)>>11) * 0x1p-53 // uniform in [0,1)
	// 1-e^-d ≤ d, so most items are settled without the series.
	return u < d && u < cutProbability(d)
}

// gear is the FastCDC gear table: 256 pseudo-random words from splitmix64,
// generated with integer arithmetic only so it is the same everywhere.
var gear = func() (t [256]uint64) {
	x := uint64(gearSeed)
	for i := range t {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		t[i] = z ^ z>>31
	}
	return t
}()

// gearCut scans p, the next bytes of a blob leaf that already holds n bytes
// with fingerprint fp, and returns how many bytes of p belong to the leaf,
// whether the leaf ends there, and the fingerprint after them. The
// fingerprint starts at zero with each leaf, so cuts depend only on the
// leaf's own bytes: after an edit the chunking falls back in step with the
// old one at the first common cut.
func (c *config) gearCut(p []byte, n int, fp uint64) (used int, cut bool, fpOut uint64) {
	for i, b := range p {
		fp = fp<<1 + gear[b]
		n++
		if n < c.blobMin {
			continue
		}
		mask := c.maskL
		if n < c.blobNormal {
			mask = c.maskS
		}
		if fp&mask == 0 || n >= c.blobMax {
			return i + 1, true, 0
		}
	}
	return len(p), false, fp
}
