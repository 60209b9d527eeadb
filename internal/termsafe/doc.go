// Package termsafe makes text that an archive or a layer chose (entry names,
// link targets, image names, annotations, and error texts that embed them)
// safe to print on a terminal: no control character, escape sequence,
// bidirectional override or byte that is not UTF-8 reaches it raw.
//
// Clean text is printed as it is, so ordinary names stay readable and
// unquoted. The escapes are JSON's (\n, \t, \u001b, surrogate pairs beyond
// U+FFFF), with \xHH for a byte that is not UTF-8, so that a line of encoded
// JSON passes through String and decodes to the same value. The escaping is
// for display: a name that itself contains a backslash followed by "u001b" is
// printed as it is and looks like an escaped one; --json gives exact values.
package termsafe
