# Derivations for the sandbox tests (tests/sandbox/*.test.ts). busybox is
# /bin/sh (sandbox-paths); its applets run without PATH. Each probe writes
# what it observes into files of $out, which the tests read.
{ port ? "0", hostIp ? "10.255.255.1", payloadHash ? "", nonce ? "", victim ? "/nonexistent", marker ? "bunix-test-marker" }:
let
  mk = attrs: derivation ({ system = "x86_64-linux"; builder = "/bin/sh"; inherit nonce; } // attrs);
  script = name: text: mk { inherit name; args = [ "-c" text ]; };
  # busybox's static wget crashes in a sandbox (no NSS modules), so HTTP by hand with nc.
  httpGet = host: path: "printf 'GET ${path} HTTP/1.0\\r\\nHost: ${host}\\r\\n\\r\\n' | nc -w 3 ${host} ${port}";
  # Unsandboxed builds run the host's /bin/sh, so these start busybox's shell themselves.
  hostScript = name: text: attrs: derivation ({ system = "x86_64-linux"; builder = "/bin/busybox"; inherit name nonce; args = [ "sh" "-c" text ]; } // attrs);
in rec {
  leaf = script "leaf" "mkdir $out; echo leaf > $out/data";
  # Its output refers to leaf, so leaf is in its closure without being a direct input of the probe.
  middle = script "middle" "mkdir $out; echo ${leaf} > $out/ref";
  # A regular-file store object: hard-linked into the sandbox, not bind-mounted.
  lone = script "lone" "echo lone > $out";
  # Valid in the store but no input of the probe: must not be visible.
  unrelated = script "unrelated" "echo unrelated > $out";
  src = builtins.toFile "sandbox-src" "source text\n";

  probe = mk {
    name = "probe";
    inherit middle lone src;
    args = [ "-c" ''
      mkdir $out
      ls -A /nix/store > $out/store
      hostname > $out/hostname
      cat /proc/sys/kernel/domainname > $out/domainname
      uname -n > $out/nodename
      echo $$ > $out/pid
      ls /proc > $TMPDIR/proc
      grep -E '^[0-9]+$' $TMPDIR/proc > $out/pids
      for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' < $f; echo; done > $out/cmdlines
      cat /proc/net/dev > $out/net-dev
      ip -o link > $out/links
      # The listener's stdin never ends (nc may quit at end of input before reading);
      # what is left running dies with PID 1.
      ( sleep 1000 | nc -l -p 7777 > $TMPDIR/received ) &
      i=0
      while [ $i -lt 100 ]; do
        if echo over-loopback | nc 127.0.0.1 7777 2>/dev/null; then break; fi
        sleep 0.1; i=$((i+1))
      done
      i=0
      while [ ! -s $TMPDIR/received ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
      cp $TMPDIR/received $out/loopback
      if ${httpGet "${hostIp}" "/from-sandbox-outside"} > $out/outside.body 2> $out/outside.err; then echo reached; else echo unreachable; fi > $out/outside
      if ${httpGet "127.0.0.1" "/from-sandbox-loopback"} > $out/host-loopback.body 2> $out/host-loopback.err; then echo reached; else echo unreachable; fi > $out/host-loopback
      id -u > $out/uid
      id -g > $out/gid
      id -G > $out/groups
      cat /proc/self/uid_map > $out/uid-map
      grep NoNewPrivs /proc/self/status > $out/no-new-privs
      cat /etc/passwd > $out/passwd
      cat /etc/group > $out/group
      ls -A /etc > $out/etc
      if cat /etc/shadow > /dev/null 2> $out/shadow.err; then echo readable; else echo unreadable; fi > $out/shadow
      ls -A /dev > $out/dev
      for d in full null random tty urandom zero; do stat -c '%n %F %t:%T %a' /dev/$d; done > $out/dev-nodes
      stat -c '%F %t:%T %a' /dev/pts/ptmx > $out/ptmx
      readlink /dev/ptmx > $out/ptmx-link
      exec 3<>/dev/ptmx
      ls -A /dev/pts > $out/pts-open
      exec 3>&-
      stat -c '%a' /tmp > $out/tmp-mode
      ls -A /tmp > $out/tmp-contents
      if touch $middle/intruder 2> $out/write-input-dir.err; then echo written; else echo refused; fi > $out/write-input-dir
      if echo more 2> $out/write-input-file.err >> $lone; then echo written; else echo refused; fi > $out/write-input-file
      if rm -rf $middle 2> $out/remove-input.err; then echo removed; else echo refused; fi > $out/remove-input
      cat $middle/ref > $out/middle-ref
      pwd > $out/pwd
    '' ];
  };

  # A fixed-output derivation keeps the host network: it fetches from the test's server.
  fetchLoopback = mk {
    name = "fetch-loopback";
    outputHashMode = "flat";
    outputHashAlgo = "sha256";
    outputHash = payloadHash;
    args = [ "-c" "${httpGet "127.0.0.1" "/payload"} | tr -d '\\r' | sed '1,/^$/d' > $out" ];
  };

  i686 = mk { name = "i686"; system = "i686-linux"; args = [ "-c" "uname -m > $out" ]; };
  x86_64 = script "x86_64" "uname -m > $out";

  # The hard-link attack: an output that is another name of a file outside the build.
  linkInput = script "link-input" "mkdir $out; ln ${lone} $out/x";
  linkWithin = script "link-within" "mkdir $out; echo mine > $out/a; ln $out/a $out/b";
  linkShadow = hostScript "link-shadow" "mkdir $out; ln /etc/shadow $out/x" { };
  linkVictim = hostScript "link-victim" "mkdir $out; ln ${victim} $out/x" { };
  linkVictimNoChroot = hostScript "link-victim-no-chroot" "mkdir $out; ln ${victim} $out/x" { __noChroot = true; };

  # Limits: each starts background children carrying the marker, then misbehaves.
  # A child is one process that waits for ever: cat blocked opening a FIFO nobody writes to.
  background = "mkfifo $TMPDIR/fifo; cat $TMPDIR/fifo ${marker} & cat $TMPDIR/fifo ${marker} & ";
  overTime = script "over-time" "${background} while true; do echo tick; sleep 0.2; done";
  silent = script "silent" "${background} echo started; sleep 1000";
  # (It waits a little first, so that the test sees its children while it runs.)
  chatty = script "chatty" "${background} sleep 1; while true; do echo 0123456789abcdef0123456789abcdef; done";
  hostOverTime = hostScript "host-over-time" "${background} while true; do echo tick; sleep 0.2; done" { };
  # setsid: a child that leaves the builder's process group (only the build user's processes can be found).
  hostEscaping = hostScript "host-escaping" "${background} setsid cat $TMPDIR/fifo ${marker} & echo started; sleep 1000" { };

  # What a pre-build hook added.
  hooked = script "hooked" "mkdir $out; cat /extra > $out/file; ls -A /extra-dir > $out/dir; cat /extra-dir/inside > $out/inside; cat /from-hook > $out/from-hook";
}
