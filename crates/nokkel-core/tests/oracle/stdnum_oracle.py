"""Oracle for tests/id_differential.rs: python-stdnum's stdnum.no.fodselsnummer.

Reads a file of inputs, one per line, and prints one line per input:
    "<c1> <c2> <date>"
where c1/c2 are 1 if the classic first/second check digit matches (stdnum knows only the
classic rule), and <date> is the birth date stdnum derives (YYYY-MM-DD), or "century" if it
cannot determine the century, or "invalid" for any other birth-date error (impossible
date, FH-number). Inputs that are not 11 digits give "- - -".

stdnum's own validate() also rejects birth dates after today; that depends on the day the
test runs, so the comparison uses the check digits and get_birth_date() instead.
Install with: pip install python-stdnum==2.2
"""

import sys

try:
    from stdnum.exceptions import ValidationError
    from stdnum.no import fodselsnummer as fnr
except ImportError:
    sys.stderr.write("python-stdnum is not installed: run `pip install python-stdnum==2.2`\n")
    sys.exit(3)


def describe(number):
    if len(number) != 11 or not number.isdigit():
        return "- - -"
    c1 = int(number[9] == fnr.calc_check_digit1(number[:9]))
    c2 = int(number[10] == fnr.calc_check_digit2(number[:10]))
    try:
        date = fnr.get_birth_date(number).isoformat()
    except ValidationError as error:
        date = "century" if "century" in str(error) else "invalid"
    return f"{c1} {c2} {date}"


with open(sys.argv[1], encoding="utf-8") as inputs:
    lines = [describe(line.rstrip("\n")) for line in inputs]
sys.stdout.write("\n".join(lines) + "\n")
