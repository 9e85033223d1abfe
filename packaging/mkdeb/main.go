// Command mkdeb writes one Debian package of the controller or the node
// from binaries already built for its architecture (scripts/deb.sh builds
// them and calls it for each package; `make deb` runs that).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/communeradio/radio/packaging"
)

func main() {
	var s packaging.Spec
	flag.StringVar(&s.Version, "version", "", "Debian version, e.g. 0.1.0+git20261207.1a2b3c4")
	flag.StringVar(&s.Arch, "arch", "", "Debian architecture: amd64, arm64, armhf")
	binDir := flag.String("bin", "", "folder holding the binaries built for -arch, by their names")
	out := flag.String("out", "dist", "folder to write the package into")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: mkdeb -version V -arch A -bin DIR [-out DIR] radio-controller|radio-node\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || *binDir == "" {
		flag.Usage()
		os.Exit(2)
	}
	s.Name = flag.Arg(0)
	s.Bin = map[string]string{}
	for _, b := range []string{"radio-controller", "radioctl", "radio-node"} {
		s.Bin[b] = filepath.Join(*binDir, b)
	}
	// SOURCE_DATE_EPOCH (the commit's time) makes the package reproducible.
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mkdeb: SOURCE_DATE_EPOCH:", err)
			os.Exit(2)
		}
		s.MTime = time.Unix(sec, 0)
	}
	path, err := packaging.Build(s, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
