// Oracle for tests/id_differential.rs: runs @navikt/fnrvalidator (NAV's validator) over a
// file of inputs, one per line, and prints one line per input:
//   "valid <type>"   type as the library names it: fnr, dnr, hnr, tnr, dnr-and-hnr, dnr-and-tnr
//   "invalid"
// Install with: npm ci --prefix crates/nokkel-core/tests/oracle
'use strict'

const fs = require('fs')

let validator
try {
  validator = require('@navikt/fnrvalidator')
} catch (e) {
  process.stderr.write(
    '@navikt/fnrvalidator is not installed: run `npm ci --prefix crates/nokkel-core/tests/oracle`\n')
  process.exit(3)
}

const inputs = fs.readFileSync(process.argv[2], 'utf8').split('\n')
if (inputs[inputs.length - 1] === '') inputs.pop()
const out = inputs.map((input) => {
  const result = validator.idnr(input)
  return result.status === 'valid' ? `valid ${result.type}` : 'invalid'
})
process.stdout.write(out.join('\n') + '\n')
