"""check(), the one helper of the test scripts that run outside the hosts
(the drivers of tests/gimp/, tests/core/json-limits-test.py): "ok - WHAT"
or "not ok - WHAT" for each check, and checks.failures counts the failed
ones for the script's exit status. The scripts that run inside GIMP cannot
import it and keep their own."""

failures = 0


def check(cond, what):
    global failures
    print(('ok - ' if cond else 'not ok - ') + what)
    if not cond:
        failures += 1
    return cond
