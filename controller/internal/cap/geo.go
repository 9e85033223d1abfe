package cap

import "math"

// earthRadiusKM is the mean Earth radius (IUGG), enough for distances of
// a few kilometres between speaker clusters.
const earthRadiusKM = 6371.0088

// DistanceKM is the great-circle (haversine) distance between two points.
func DistanceKM(a, b Point) float64 {
	rad := math.Pi / 180
	dLat, dLon := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKM * math.Asin(math.Min(1, math.Sqrt(h)))
}

// Contains reports whether pt lies inside the polygon (even-odd rule, lat
// and lon taken as plane coordinates: a commune's polygons are small and
// never cross the antimeridian).
func (p Polygon) Contains(pt Point) bool {
	in := false
	for i, j := 0, len(p)-1; i < len(p); j, i = i, i+1 {
		a, b := p[i], p[j]
		if (a.Lat > pt.Lat) != (b.Lat > pt.Lat) &&
			pt.Lon < (b.Lon-a.Lon)*(pt.Lat-a.Lat)/(b.Lat-a.Lat)+a.Lon {
			in = !in
		}
	}
	return in
}

// Contains reports whether pt is within the circle.
func (c Circle) Contains(pt Point) bool { return DistanceKM(c.Center, pt) <= c.RadiusKM }

// Covers reports whether the area covers a place at pt whose
// administrative units have the given codes: inside one of its polygons or
// circles, or named by one of its geocodes.
func (ar Area) Covers(pt Point, codes ...string) bool {
	for _, p := range ar.Polygons {
		if p.Contains(pt) {
			return true
		}
	}
	for _, c := range ar.Circles {
		if c.Contains(pt) {
			return true
		}
	}
	for _, g := range ar.Geocodes {
		for _, c := range codes {
			if c != "" && g.Value == c {
				return true
			}
		}
	}
	return false
}

// Covers reports whether any area of the info block covers the place.
func (in Info) Covers(pt Point, codes ...string) bool {
	for _, ar := range in.Areas {
		if ar.Covers(pt, codes...) {
			return true
		}
	}
	return false
}
