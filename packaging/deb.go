// Package packaging builds the Debian packages of the controller and the
// node: the binaries, a hardened systemd unit each (Type=notify with a
// watchdog the daemons feed), a conffile of flags in /etc/radio, and
// maintainer scripts that make the system user and data folder, restart
// on upgrade, keep data and configuration on remove, and delete them on
// purge. A speaker box nobody visits for years is installed with
// `apt install ./radio-node_*.deb` and behaves as any Debian service.
//
// The packages are written with nfpm (github.com/goreleaser/nfpm/v2), so
// building needs no Debian tooling; the test installs them with dpkg.
package packaging

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

//go:embed debian
var debian embed.FS

// Names of the two packages.
const (
	Controller = "radio-controller"
	Node       = "radio-node"
)

// Arches are the Debian architectures each package is built for.
var Arches = map[string][]string{
	Controller: {"amd64", "arm64"},
	Node:       {"arm64", "armhf", "amd64"},
}

// Spec is one package to build.
type Spec struct {
	Name    string // Controller or Node
	Version string // Debian version, e.g. 0.1.0+git20261207.1a2b3c4
	Arch    string // Debian architecture: amd64, arm64, armhf
	// Bin holds the built binaries for Arch by name: "radio-controller"
	// and "radioctl" for the controller, "radio-node" for the node.
	Bin map[string]string
	// MTime stamps the files (zero: now). Set it for reproducible packages.
	MTime time.Time
}

// layout is what differs between the two packages.
type layout struct {
	Name        string
	Binaries    []string
	Depends     []string
	Recommends  []string
	Suggests    []string
	Section     string
	Description string
	Conffile    string   // flags, in /etc/radio
	Groups      []string // extra groups of the system user, where they exist
	Secret      string   // a config file with secrets, made after install (node.json)
	PurgeFiles  []string // made after install, deleted on purge
}

var layouts = map[string]layout{
	Controller: {
		Name:       Controller,
		Binaries:   []string{"radio-controller", "radioctl"},
		Depends:    []string{"adduser", "ffmpeg"},
		Recommends: []string{"espeak-ng"},
		Suggests:   []string{"mosquitto"},
		Section:    "net",
		Description: "commune radio controller\n" +
			" The controller of a smart commune radio system: web app and HTTP API,\n" +
			" scheduler, SQLite registry and an embedded MQTT broker that drives the\n" +
			" loudspeaker nodes.",
		Conffile: "controller.env",
	},
	Node: {
		Name:     Node,
		Binaries: []string{"radio-node"},
		// The t64 names are Debian 13's; Debian 12 and Raspberry Pi OS
		// (bookworm) have the plain ones.
		Depends: []string{"adduser", "libasound2 | libasound2t64", "libopus0"},
		Section: "sound",
		Description: "commune radio loudspeaker node\n" +
			" The daemon of a speaker box of a smart commune radio system: plays\n" +
			" what the controller sends, at the same instant as its neighbours, and\n" +
			" reports what it played.",
		Conffile:   "node.env",
		Groups:     []string{"audio", "gpio"},
		Secret:     "/etc/radio/node.json",
		PurgeFiles: []string{"/etc/radio/node.json"},
	},
}

// FileName is the conventional name of a package file.
func FileName(name, version, arch string) string {
	return fmt.Sprintf("%s_%s_%s.deb", name, version, arch)
}

// Build writes the package into dir and returns its path.
func Build(s Spec, dir string) (string, error) {
	l, ok := layouts[s.Name]
	if !ok {
		return "", fmt.Errorf("packaging: no package %q", s.Name)
	}
	if s.Version == "" || s.Arch == "" {
		return "", fmt.Errorf("packaging: %s: version and arch are required", s.Name)
	}
	mtime := s.MTime
	if mtime.IsZero() {
		mtime = time.Now()
	}
	work, err := os.MkdirTemp("", "radio-deb-")
	if err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	defer os.RemoveAll(work)

	var contents files.Contents
	for _, b := range l.Binaries {
		src := s.Bin[b]
		if src == "" {
			return "", fmt.Errorf("packaging: %s: no %s binary given", s.Name, b)
		}
		if _, err := os.Stat(src); err != nil {
			return "", fmt.Errorf("packaging: %s: %w", s.Name, err)
		}
		contents = append(contents, &files.Content{Source: src, Destination: "/usr/bin/" + b,
			FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: mtime}})
	}
	unit, err := extract(work, s.Name+".service")
	if err != nil {
		return "", err
	}
	conf, err := extract(work, l.Conffile)
	if err != nil {
		return "", err
	}
	contents = append(contents,
		&files.Content{Source: unit, Destination: "/usr/lib/systemd/system/" + s.Name + ".service",
			FileInfo: &files.ContentFileInfo{Mode: 0o644, MTime: mtime}},
		&files.Content{Source: conf, Destination: "/etc/radio/" + l.Conffile, Type: files.TypeConfig,
			FileInfo: &files.ContentFileInfo{Mode: 0o644, MTime: mtime}},
	)
	var scripts nfpm.Scripts
	for _, sc := range []struct {
		tmpl string
		dst  *string
	}{{"postinst", &scripts.PostInstall}, {"prerm", &scripts.PreRemove}, {"postrm", &scripts.PostRemove}} {
		if *sc.dst, err = render(work, sc.tmpl, l); err != nil {
			return "", err
		}
	}

	info := nfpm.WithDefaults(&nfpm.Info{
		Name: s.Name, Arch: s.Arch, Platform: "linux", Version: s.Version, VersionSchema: "none",
		Section: l.Section, Priority: "optional", Maintainer: "Commune radio developers <radio@communeradio.invalid>",
		Description: l.Description, Homepage: "https://github.com/communeradio/radio", License: "Apache-2.0",
		MTime: mtime,
		Overridables: nfpm.Overridables{
			Depends: l.Depends, Recommends: l.Recommends, Suggests: l.Suggests,
			Contents: contents, Scripts: scripts,
			Deb: nfpm.Deb{Arch: s.Arch, Compression: "gzip"},
		},
	})
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", fmt.Errorf("packaging: %s: %w", s.Name, err)
	}
	var buf bytes.Buffer
	if err := deb.Default.Package(info, &buf); err != nil {
		return "", fmt.Errorf("packaging: %s: %w", s.Name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	out := filepath.Join(dir, FileName(s.Name, s.Version, s.Arch))
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	return out, nil
}

// extract copies an embedded file into work (nfpm reads files from disk).
func extract(work, name string) (string, error) {
	b, err := debian.ReadFile("debian/" + name)
	if err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	p := filepath.Join(work, name)
	return p, os.WriteFile(p, b, 0o644)
}

// render fills a maintainer script's template for one package.
func render(work, script string, l layout) (string, error) {
	t, err := template.ParseFS(debian, "debian/"+script+".tmpl")
	if err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, l); err != nil {
		return "", fmt.Errorf("packaging: %s %s: %w", l.Name, script, err)
	}
	p := filepath.Join(work, script)
	return p, os.WriteFile(p, b.Bytes(), 0o755)
}

// Unit returns the text of a package's systemd unit, for checks.
func Unit(name string) ([]byte, error) {
	return debian.ReadFile("debian/" + name + ".service")
}
