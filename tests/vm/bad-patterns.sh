# Sourced by the scripts that boot the x86 test VM (tests/vm/run-tests.sh,
# bench/run-bench.sh): kernel-reported problems that fail a run wherever they appear in
# the VM's console log (an extended regular expression for grep -E).
bad_patterns='BUG:|WARNING:|Oops|kernel BUG|KASAN|unreferenced object|possible recursive locking|circular locking|inconsistent lock state|suspicious RCU usage|sleeping function called from invalid context|Call Trace:|Kernel panic|general protection fault|UBSAN'
