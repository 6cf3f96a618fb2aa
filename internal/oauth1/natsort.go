package oauth1

// natCompare is PHP's strnatcmp (ext/standard/strnatcmp.c, after Martin
// Pool's algorithm) for the characters percent-encoding leaves: runs of
// digits compare as numbers, everything else byte by byte. A run that
// starts with "0" on either side compares as a fraction (left-aligned),
// otherwise the longer run is the larger number and, at equal length, the
// first differing digit decides. Whitespace never occurs in encoded
// parameters, so PHP's whitespace skipping is left out. Magento sorts
// signature parameters with it (uksort … 'strnatcmp').
func natCompare(a, b string) int {
	i, j := 0, 0
	// PHP skips leading zeros of a number at the very start of a string.
	for i+1 < len(a) && a[i] == '0' && isDigit(a[i+1]) {
		i++
	}
	for j+1 < len(b) && b[j] == '0' && isDigit(b[j+1]) {
		j++
	}
	for {
		if i >= len(a) || j >= len(b) {
			switch {
			case i >= len(a) && j >= len(b):
				return 0
			case i >= len(a):
				return -1
			default:
				return 1
			}
		}
		ca, cb := a[i], b[j]
		if isDigit(ca) && isDigit(cb) {
			var r, ni, nj int
			if ca == '0' || cb == '0' {
				r, ni, nj = compareLeft(a[i:], b[j:])
			} else {
				r, ni, nj = compareRight(a[i:], b[j:])
			}
			if r != 0 {
				return r
			}
			i, j = i+ni, j+nj
			continue
		}
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
		i++
		j++
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitAt(s string, k int) bool { return k < len(s) && isDigit(s[k]) }

// compareRight compares two right-aligned numbers: the longest run wins;
// at equal length, the first difference. It returns how far it read.
func compareRight(a, b string) (r, na, nb int) {
	bias := 0
	k := 0
	for {
		da, db := digitAt(a, k), digitAt(b, k)
		switch {
		case !da && !db:
			return bias, k, k
		case !da:
			return -1, k, k
		case !db:
			return 1, k, k
		}
		if bias == 0 {
			if a[k] < b[k] {
				bias = -1
			} else if a[k] > b[k] {
				bias = 1
			}
		}
		k++
	}
}

// compareLeft compares two left-aligned (fractional) numbers: the first
// difference wins.
func compareLeft(a, b string) (r, na, nb int) {
	k := 0
	for {
		da, db := digitAt(a, k), digitAt(b, k)
		switch {
		case !da && !db:
			return 0, k, k
		case !da:
			return -1, k, k
		case !db:
			return 1, k, k
		}
		if a[k] < b[k] {
			return -1, k, k
		}
		if a[k] > b[k] {
			return 1, k, k
		}
		k++
	}
}
