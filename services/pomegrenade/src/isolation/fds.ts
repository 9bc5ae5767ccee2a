// No file descriptor of the platform reaches a sandbox (cf. runc CVE-2024-21626). Node opens its
// own fds close-on-exec, but fds the platform inherited from whoever started it (a supervisor, a
// test harness) stay open across exec. The first program of every sandbox chain is a constant
// bash script that starts with CLOSE_FDS_LOOP: it closes every fd above the ones we hand over on
// purpose; the script then becomes the rest of the chain with an empty environment (`exec -c`:
// every program of the chain is named by an absolute path). (bash, not sh: dash cannot name fds
// above 9.)

/** The interpreter of the chain's first script. */
export const BASH = '/bin/bash';

/**
 * Flags of every root bash of a sandbox chain: no startup file, ever. Without `--norc`, a
 * non-interactive `bash -c` whose stdin is a socket (Node's piped stdin is a socketpair) believes
 * sshd started it and runs ~/.bashrc — root's — before the script.
 */
export const BASH_FLAGS = ['--norc', '--noprofile'];

/** Highest fd passed on purpose: 0-2 stdio, 3 the seccomp program, 4 the environment file. */
export const LAST_KEPT_FD = 4;

/** bash statements closing every fd > LAST_KEPT_FD of the shell running them. */
export const CLOSE_FDS_LOOP = `for f in /proc/$$/fd/*; do n=\${f##*/}; if [ "$n" -gt ${LAST_KEPT_FD} ] 2>/dev/null; then exec {n}<&-; fi; done`;
