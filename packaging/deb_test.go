package packaging

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is a copy-on-write view of this machine (an overlay of / in a
// private mount namespace) in which the packages are installed with the
// machine's own dpkg, adduser and maintainer tools, as on a real Debian
// system, while the machine itself is left untouched: every change lands
// in the overlay's upper folder and goes with the test's temp folder.
//
// No service manager runs here, so a recording stand-in for systemctl
// takes its place inside the root; /run/systemd/system exists there so
// that the maintainer scripts act as they do on a booted system.
type root struct {
	dir string
}

// fakeSystemctl records every call; what needs a running manager
// (start, stop, reload, is-active) only succeeds, the rest (preset,
// enable, is-enabled: links in /etc) is the real systemctl's, offline.
const fakeSystemctl = `#!/bin/sh
echo "$*" >> /var/log/radio-test-systemctl.log
for a in "$@"; do
	case "$a" in
	start|stop|restart|try-restart|reload|daemon-reload|is-active) exit 0 ;;
	is-enabled) exec /usr/bin/systemctl --root=/ "$@" ;;
	esac
done
exec /usr/bin/systemctl "$@"
`

func newRoot(t *testing.T) *root {
	t.Helper()
	r := &root{dir: t.TempDir()}
	for _, d := range []string{"up", "work", "m"} {
		if err := os.Mkdir(filepath.Join(r.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	enter := fmt.Sprintf(`#!/bin/sh
set -e
D=%s
mount -t overlay overlay -o lowerdir=/,upperdir=$D/up,workdir=$D/work $D/m
for fs in dev proc sys; do mount --bind /$fs $D/m/$fs; done
exec chroot $D/m env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c "$1"
`, r.dir)
	if err := os.WriteFile(filepath.Join(r.dir, "enter"), []byte(enter), 0o755); err != nil {
		t.Fatal(err)
	}
	r.sh(t, `set -e
mkdir -p /run/systemd/system /usr/local/sbin
cat > /usr/local/sbin/systemctl <<'END'
`+fakeSystemctl+`END
chmod 755 /usr/local/sbin/systemctl
printf '#!/bin/sh\nexit 0\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d`)
	return r
}

// try runs a shell script as root inside the root.
func (r *root) try(script string) (string, error) {
	args := []string{"unshare", "-m", "--propagation", "private", filepath.Join(r.dir, "enter"), script}
	if os.Geteuid() != 0 {
		args = append([]string{"sudo", "-n"}, args...) // as scripts/install-deps.sh does
	}
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	return string(out), err
}

func (r *root) sh(t *testing.T, script string) string {
	t.Helper()
	out, err := r.try(script)
	if err != nil {
		t.Fatalf("in the test root: %s\n%v\n%s", script, err, out)
	}
	return out
}

// want fails unless the script's output matches re.
func (r *root) want(t *testing.T, script, re string) {
	t.Helper()
	if out := r.sh(t, script); !regexp.MustCompile(re).MatchString(out) {
		t.Errorf("%s:\n%s\nwant it to match %q", script, out, re)
	}
}

// gone fails unless every path is absent in the root.
func (r *root) gone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if out, err := r.try("test ! -e " + p + " && test ! -L " + p); err != nil {
			t.Errorf("%s is still there %s", p, out)
		}
	}
}

// present fails unless every path exists in the root.
func (r *root) present(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if out, err := r.try("test -e " + p); err != nil {
			t.Errorf("%s is missing %s", p, out)
		}
	}
}

// buildBinaries builds the amd64 binaries the packages hold (only amd64
// here: cross builds are `make deb`'s, and slow).
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, b := range []struct {
		cgo  string
		pkgs []string
	}{{"0", []string{"../cmd/radio-controller", "../cmd/radioctl"}}, {"1", []string{"../cmd/radio-node"}}} {
		cmd := exec.Command("go", append([]string{"build", "-o", dir + "/"}, b.pkgs...)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+b.cgo, "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %v: %v\n%s", b.pkgs, err, out)
		}
	}
	return dir
}

// A node config as enrolment writes it (the key is any 32 bytes).
const nodeJSON = `{"id": "box-1", "secret": "s3cret", "broker": "tcp://127.0.0.1:1883",
 "controller_keys": [{"kid": "k-1", "pub": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}],
 "data_dir": "/var/lib/radio-node"}`

// asUnit is a shell command line that runs a package's unit's ExecStart as
// systemd would (its EnvironmentFile read, $VARS split at blanks, as its
// User, with its UMask), with extra arguments appended.
func asUnit(name, extra string) string {
	unit := "/usr/lib/systemd/system/" + name + ".service"
	return fmt.Sprintf(`set -a; . "$(sed -n 's/^EnvironmentFile=//p' %[1]s)"; set +a
umask "$(sed -n 's/^UMask=//p' %[1]s)"
user=$(sed -n 's/^User=//p' %[1]s)
eval "exec setpriv --reuid=$user --regid=$user --init-groups $(sed -n 's/^ExecStart=//p' %[1]s) %[2]s"`, unit, extra)
}

// runController starts the installed controller as its unit would until
// it serves, then stops it; it returns the controller's log.
func runController(t *testing.T, r *root) string {
	t.Helper()
	return r.sh(t, `cd /
(`+asUnit(Controller, "")+`) > /tmp/ctl.log 2>&1 &
pid=$!
i=0
until grep -q "controller ready" /tmp/ctl.log; do
  i=$((i+1)); if [ $i -gt 600 ] || ! kill -0 $pid 2>/dev/null; then cat /tmp/ctl.log; exit 1; fi
  sleep 0.2
done
kill $pid; wait $pid || true
cat /tmp/ctl.log`)
}

// TestDebianPackages installs the amd64 packages with dpkg, checks the
// units with systemd-analyze verify, runs the controller as its user,
// upgrades to a newer version, removes and purges, and checks what is kept
// and what goes at each step as README.md ("Installing on a speaker box")
// says.
func TestDebianPackages(t *testing.T) {
	r := newRoot(t)
	bins := buildBinaries(t)
	pkgDir := t.TempDir()
	debs := map[string]string{}
	for _, v := range []string{"1.0.0", "1.0.1"} {
		for _, name := range []string{Controller, Node} {
			p, err := Build(Spec{Name: name, Version: v, Arch: "amd64", Bin: map[string]string{
				"radio-controller": filepath.Join(bins, "radio-controller"),
				"radioctl":         filepath.Join(bins, "radioctl"),
				"radio-node":       filepath.Join(bins, "radio-node"),
			}}, pkgDir)
			if err != nil {
				t.Fatal(err)
			}
			debs[name+"_"+v] = p
		}
	}
	systemctlLog := func() string { return r.sh(t, "cat /var/log/radio-test-systemctl.log 2>/dev/null || true") }

	// Install.
	r.sh(t, "dpkg -i "+debs["radio-controller_1.0.0"]+" "+debs["radio-node_1.0.0"])
	r.present(t, "/usr/bin/radio-controller", "/usr/bin/radioctl", "/usr/bin/radio-node",
		"/usr/lib/systemd/system/radio-controller.service", "/usr/lib/systemd/system/radio-node.service",
		"/etc/radio/controller.env", "/etc/radio/node.env",
		"/etc/systemd/system/multi-user.target.wants/radio-controller.service",
		"/etc/systemd/system/multi-user.target.wants/radio-node.service")
	r.want(t, "getent passwd radio-controller radio-node | cut -d: -f1,6,7",
		`(?m)^radio-controller:/var/lib/radio-controller:/usr/sbin/nologin\nradio-node:/var/lib/radio-node:/usr/sbin/nologin$`)
	r.want(t, "id -nG radio-node", `\baudio\b`)
	r.want(t, "stat -c '%U:%G %a' /var/lib/radio-controller /var/lib/radio-node",
		`^radio-controller:radio-controller 750\nradio-node:radio-node 750\n$`)
	if l := systemctlLog(); !strings.Contains(l, "start radio-controller.service") || !strings.Contains(l, "start radio-node.service") {
		t.Errorf("install did not start the services; systemctl calls:\n%s", l)
	}

	// The units, as systemd would load them on this system.
	for _, u := range []string{"radio-controller", "radio-node"} {
		out, err := r.try("systemd-analyze verify /usr/lib/systemd/system/" + u + ".service")
		if err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("systemd-analyze verify %s: %v\n%s", u, err, out)
		}
	}

	// The administrator's edits of both conffiles (the controller on ports
	// free here), data as the controller makes it under its unit's
	// settings, and a box enrolled (node.json as root writes it).
	r.sh(t, `sed -i 's/^RADIO_NODE_ARGS=.*/RADIO_NODE_ARGS="-debug"/' /etc/radio/node.env
sed -i 's/^RADIO_CONTROLLER_ARGS=.*/RADIO_CONTROLLER_ARGS="-http 127.0.0.1:0 -mqtt 127.0.0.1:0"/' /etc/radio/controller.env`)
	firstRun := runController(t, r)
	if !strings.Contains(firstRun, "first start") {
		t.Errorf("the controller did not start fresh:\n%s", firstRun)
	}
	r.want(t, "stat -c '%U %a' /var/lib/radio-controller/registry.db /var/lib/radio-controller/admin.password",
		`^radio-controller 640\nradio-controller 600\n$`)
	password := r.sh(t, "cat /var/lib/radio-controller/admin.password")
	r.sh(t, `setpriv --reuid=radio-node --regid=radio-node --init-groups sh -c 'mkdir /var/lib/radio-node/cache && echo kept > /var/lib/radio-node/cache/marker'
umask 077
cat > /etc/radio/node.json <<'END'
`+nodeJSON+`
END`)

	// Upgrade.
	r.sh(t, "rm -f /var/log/radio-test-systemctl.log; dpkg -i "+debs["radio-controller_1.0.1"]+" "+debs["radio-node_1.0.1"])
	r.want(t, "dpkg-query -W -f '${Package} ${Version} ${Status}\n' radio-controller radio-node",
		`^radio-controller 1.0.1 install ok installed\nradio-node 1.0.1 install ok installed\n$`)
	r.want(t, "grep ^RADIO_ /etc/radio/node.env /etc/radio/controller.env",
		`/etc/radio/node.env:RADIO_NODE_ARGS="-debug"\n/etc/radio/controller.env:RADIO_CONTROLLER_ARGS="-http 127.0.0.1:0 -mqtt 127.0.0.1:0"`)
	r.want(t, "cat /var/lib/radio-node/cache/marker", `^kept\n$`)
	if l := systemctlLog(); !strings.Contains(l, "restart radio-controller.service") || !strings.Contains(l, "restart radio-node.service") {
		t.Errorf("the upgrade did not restart the services; systemctl calls:\n%s", l)
	}
	// The node's unit reads the config enrolment wrote, as its own user.
	r.want(t, "stat -c '%U:%G %a' /etc/radio/node.json", `^root:radio-node 640\n$`)
	r.want(t, asUnit(Node, "-check"), `config OK: /etc/radio/node.json`)
	// The controller carries on with its data: no first start again.
	if again := runController(t, r); strings.Contains(again, "first start") {
		t.Errorf("after the upgrade the controller started afresh:\n%s", again)
	}
	if got := r.sh(t, "cat /var/lib/radio-controller/admin.password"); got != password {
		t.Errorf("admin.password changed across the upgrade: %q, was %q", got, password)
	}

	// Remove: programs go, configuration and data stay.
	r.sh(t, "rm -f /var/log/radio-test-systemctl.log; dpkg -r radio-controller radio-node")
	r.gone(t, "/usr/bin/radio-controller", "/usr/bin/radioctl", "/usr/bin/radio-node",
		"/usr/lib/systemd/system/radio-controller.service", "/usr/lib/systemd/system/radio-node.service")
	// Masked while removed (the enabled links stay, as Debian keeps them
	// for a reinstall, but nothing starts).
	r.want(t, "readlink /etc/systemd/system/radio-controller.service /etc/systemd/system/radio-node.service",
		`^/dev/null\n/dev/null\n$`)
	r.present(t, "/etc/radio/controller.env", "/etc/radio/node.env", "/etc/radio/node.json",
		"/var/lib/radio-controller/registry.db", "/var/lib/radio-controller/admin.password",
		"/var/lib/radio-node/cache/marker")
	r.want(t, "grep ^RADIO_NODE_ARGS /etc/radio/node.env", `-debug`)
	r.want(t, "dpkg-query -W -f '${Status}\n' radio-controller radio-node", `^deinstall ok config-files\ndeinstall ok config-files\n$`)
	if l := systemctlLog(); !strings.Contains(l, "stop radio-controller.service") || !strings.Contains(l, "stop radio-node.service") {
		t.Errorf("removal did not stop the services; systemctl calls:\n%s", l)
	}

	// Purge: configuration and data go; the system users stay.
	r.sh(t, "dpkg -P radio-controller radio-node")
	r.gone(t, "/etc/radio", "/var/lib/radio-controller", "/var/lib/radio-node",
		"/etc/systemd/system/multi-user.target.wants/radio-controller.service",
		"/etc/systemd/system/multi-user.target.wants/radio-node.service",
		"/etc/systemd/system/radio-controller.service", "/etc/systemd/system/radio-node.service")
	r.want(t, "dpkg-query -W -f '${Status}\n' radio-controller radio-node 2>&1 || true", `not-installed|no packages found`)
	r.want(t, "getent passwd radio-controller radio-node | cut -d: -f1", `^radio-controller\nradio-node\n$`)

	// And this machine saw none of it.
	for _, p := range []string{"/etc/radio", "/var/lib/radio-controller", "/usr/bin/radio-node"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists on this machine: the test leaked out of its root", p)
		}
	}
}
