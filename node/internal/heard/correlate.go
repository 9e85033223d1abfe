package heard

import (
	"math"
	"math/cmplx"
)

// Match is how well a capture matches what was played.
type Match struct {
	// Corr is the normalised correlation coefficient at the best lag, in
	// [-1, 1]: 1 for an exact (scaled) copy, near 0 for unrelated sound or
	// silence. Its absolute value is what counts (a line-in may invert).
	Corr float64
	// Lag is how many samples the capture runs behind the reference.
	Lag int
}

// Correlate finds where ref occurs in capt, whose sample k+maxLag lines up
// with ref's sample k at lag 0 (capt is ref's span widened by maxLag on both
// sides: len(capt) must be len(ref)+2*maxLag). It returns the lag in
// [-maxLag, maxLag] of the largest |r|, where r is the Pearson correlation
// of ref with the stretch of capt under it. Both are freed of their mean
// first (a DC offset of a line-in is not sound). A silent ref or capture
// matches nothing: Corr 0.
//
// The sums over every lag are one circular cross-correlation through the FFT
// (conj(FFT(ref)) · FFT(capt)); an FFT as long as capt never wraps for
// lags 0..2*maxLag. The energy of each stretch of capt comes from prefix
// sums.
func Correlate(ref, capt []float32, maxLag int) Match {
	var s scratch
	return s.correlate(ref, capt, maxLag)
}

// scratch holds a correlation's buffers, reused from one stretch to the
// next: an item's judgement would otherwise allocate ~16 MB, a lot for a
// node that must live in 25 MB.
type scratch struct {
	x, y, prefix []float64
	fx, fy       []complex128
}

func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	b = b[:n]
	clear(b)
	return b
}

func (s *scratch) correlate(ref, capt []float32, maxLag int) Match {
	n := len(ref)
	if n == 0 || maxLag < 0 || len(capt) != n+2*maxLag {
		return Match{}
	}
	s.x = centred(s.x, ref)
	s.y = centred(s.y, capt)
	x, y := s.x, s.y
	var ex float64
	for _, v := range x {
		ex += v * v
	}
	if ex <= 0 {
		return Match{}
	}
	m := 1
	for m < len(y) {
		m <<= 1
	}
	s.fx, s.fy = grow(s.fx, m), grow(s.fy, m)
	fx, fy := s.fx, s.fy
	for i, v := range x {
		fx[i] = complex(v, 0)
	}
	for i, v := range y {
		fy[i] = complex(v, 0)
	}
	fft(fx, false)
	fft(fy, false)
	for i := range fx {
		fx[i] = cmplx.Conj(fx[i]) * fy[i]
	}
	fft(fx, true)
	s.prefix = grow(s.prefix, len(y)+1)
	prefix := s.prefix
	for i, v := range y {
		prefix[i+1] = prefix[i] + v*v
	}
	best := Match{}
	for k := 0; k <= 2*maxLag; k++ {
		ey := prefix[k+n] - prefix[k]
		if ey <= ex*1e-12 { // silence under ref: nothing to match
			continue
		}
		r := real(fx[k]) / float64(m) / math.Sqrt(ex*ey)
		if math.Abs(r) > math.Abs(best.Corr) {
			best = Match{Corr: r, Lag: k - maxLag}
		}
	}
	best.Corr = max(-1, min(1, best.Corr))
	return best
}

// centred is s less its mean, in buf.
func centred(buf []float64, s []float32) []float64 {
	var mean float64
	for _, v := range s {
		mean += float64(v)
	}
	mean /= float64(max(1, len(s)))
	out := grow(buf, len(s))
	for i, v := range s {
		out[i] = float64(v) - mean
	}
	return out
}

// fft is an in-place iterative radix-2 FFT; len(a) is a power of two. The
// inverse is left unscaled.
func fft(a []complex128, inverse bool) {
	n := len(a)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	sign := -1.0
	if inverse {
		sign = 1
	}
	for size := 2; size <= n; size <<= 1 {
		step := cmplx.Rect(1, sign*2*math.Pi/float64(size))
		for start := 0; start < n; start += size {
			w := complex(1, 0)
			half := size / 2
			for k := range half {
				u, v := a[start+k], a[start+k+half]*w
				a[start+k], a[start+k+half] = u+v, u-v
				w *= step
			}
		}
	}
}

// Floor is the lowest level reported, in dBFS: digital silence.
const Floor = -120.0

// DBFS is the RMS level of s (full scale 1.0) in dB, at least Floor.
func DBFS(s []float32) float64 {
	return dbOf(energy(s), len(s))
}

// dbOf is the RMS level in dBFS of n samples whose squares sum to e.
func dbOf(e float64, n int) float64 {
	if n == 0 || e <= 0 {
		return Floor
	}
	return max(Floor, 10*math.Log10(e/float64(n)))
}
