// Package shape checks a module's shape against limits before wazero
// compiles it, so that a hostile module is refused at once instead of
// holding the compiler for minutes or allocating gigabytes.
package shape
