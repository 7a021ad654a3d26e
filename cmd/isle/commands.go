package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one `isle` subcommand as help, flag suggestions and shell
// completion see it. Dispatch stays in realMain's switch; a new command
// adds its case there and one entry here (or, from its own file,
// `func init() { commands = append(commands, command{...}) }`).
type command struct {
	name    string
	usage   string // the line after "usage: "
	summary string // one line for the list of commands
	about   string // what `isle help NAME` says before the flags
	// flags returns a fresh flag set of the command, or nil when it has
	// none. It is what help prints and what --help and unknown flags are
	// found with, so it must be the one the command parses.
	flags func() *flag.FlagSet
	// words are what completes the command's arguments; nil: file names.
	words func() []string
}

var commands = []command{
	{
		name:    "run",
		usage:   strings.TrimPrefix(usageLine, "usage: "),
		summary: "start a module, or the program of a manifest, as a process",
		about: `isle run starts MODULE and exits with its exit code. MODULE is a .wasm file,
a directory of Go source (built with the local Go toolchain for
GOOS=wasip1, cached by content), or a manifest (.toml, docs/MANIFEST.md).
The guest gets stdio, the clock and randomness, plus exactly what the flags
grant: nothing from the host environment or file system reaches it
otherwise. isle's flags come before MODULE, the guest's arguments after --.`,
		flags: func() *flag.FlagSet { return newRunFlags(&runOptions{}) },
	},
	{
		name:    "up",
		usage:   strings.TrimPrefix(upUsage, "usage: "),
		summary: "run an application, a supervision tree of services, until interrupted",
		about: `isle up runs the application APP.toml declares (docs/MANIFEST.md): a
supervision tree of services, each restarted as its supervisor says, until
SIGINT or SIGTERM stops the tree in order. With --node NAME it joins a
cluster as node NAME and runs the services the manifest places there;
services on other nodes that they use are reached over the cluster
(README, "A cluster"; make credentials with isle cluster init).`,
		flags: func() *flag.FlagSet { fs, _ := newUpFlags(); return fs },
	},
	{
		name:    "caps",
		usage:   "isle caps MODULE",
		summary: "print what a module imports, and so asks for",
		about: `isle caps prints each function MODULE imports once, the authority those
imports ask for and how to grant it, and the names of the grants the module
looks up.`,
	},
	{
		name:    "help",
		usage:   "isle help [COMMAND]",
		summary: "print help, for isle or for one command",
		about:   `isle help prints isle's help; isle help COMMAND, like isle COMMAND --help, prints that command's.`,
		// words: commandNames, set by init (it reads commands)
	},
	{
		name:    "version",
		usage:   "isle version",
		summary: "print the versions of isle, Go and wazero (also isle --version)",
		about:   `isle version prints isle's module version (with the VCS revision it was built from, when known), and the versions of Go and wazero it was built with.`,
		words:   none,
	},
	{
		name:    "completion",
		usage:   "isle completion bash|zsh|fish",
		summary: "print a shell completion script",
		about: `isle completion prints a script that completes isle's commands, flags and
file names in the given shell. Load it with:
  bash:  source <(isle completion bash)
  zsh:   source <(isle completion zsh)   (after compinit)
  fish:  isle completion fish | source`,
		words: func() []string { return []string{"bash", "zsh", "fish"} },
	},
}

func init() { findCommand("help").words = commandNames }

// statusHelpUsage is the status of `isle help` given a command isle does
// not have: the usual status of a command-line usage error.
const statusHelpUsage = 2

func none() []string { return []string{} }

func commandNames() []string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return names
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// preDispatch handles what every command shares before realMain's switch
// runs it: --version, help, CMD --help and unknown flags. done reports
// that it handled args and status is isle's exit status.
func preDispatch(args []string, stdout, stderr io.Writer) (status int, done bool) {
	switch args[0] {
	case "--version", "-version":
		args = append([]string{"version"}, args[1:]...)
	case "-h", "-help", "--help":
		args = append([]string{"help"}, args[1:]...)
	}
	c := findCommand(args[0])
	if c == nil {
		return 0, false
	}
	help, err := c.scanFlags(args[1:])
	switch {
	case help:
		c.printHelp(stdout)
		return 0, true
	case err != nil:
		fmt.Fprintf(stderr, "isle: %v\n", err)
		return statusUsage, true
	}
	switch c.name {
	case "version":
		printVersion(stdout)
		return 0, true
	case "completion":
		return completionCmd(args[1:], stdout, stderr), true
	case "help":
		if len(args) == 1 {
			printHelp(stdout)
			return 0, true
		}
		if h := findCommand(args[1]); h != nil {
			h.printHelp(stdout)
			return 0, true
		}
		fmt.Fprintf(stderr, "isle: no command %q to help with%s\n", args[1], orHelp(suggest(args[1], commandNames(), ""), "run 'isle help' for the commands"))
		return statusHelpUsage, true
	}
	return 0, false
}

// scanFlags parses args as the command will, to find a request for help
// or an unknown flag among isle's own flags (those before the first
// argument). Other errors are left for the command to report.
func (c *command) scanFlags(args []string) (help bool, err error) {
	if c.flags == nil {
		for _, a := range args {
			if a == "--" {
				break
			}
			if a == "-h" || a == "-help" || a == "--help" {
				return true, nil
			}
		}
		return false, nil
	}
	fs := c.flags()
	fs.SetOutput(io.Discard)
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return true, nil
	}
	var unknown *unknownFlagError
	if errors.As(flagError(fs, args, err), &unknown) {
		return false, unknown
	}
	return false, nil
}

// unknownFlagError is a flag the command does not have.
type unknownFlagError struct {
	msg string
}

func (e *unknownFlagError) Error() string { return e.msg }

// flagError turns an error of fs.Parse(args) into one line: an unknown
// flag as the user wrote it, with the nearest flag the command has.
func flagError(fs *flag.FlagSet, args []string, err error) error {
	name, ok := strings.CutPrefix(fmt.Sprint(err), "flag provided but not defined: -")
	if !ok {
		return err
	}
	typed := "-" + name
	for _, a := range args {
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			typed = "--" + name
			break
		}
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	msg := "unknown flag " + typed
	if s := suggest(name, names, "--"); s != "" {
		msg += s
	} else {
		msg += fmt.Sprintf("; run 'isle help %s' for the flags", fs.Name())
	}
	return &unknownFlagError{msg: msg}
}

// suggest returns "; did you mean PREFIX+NAME?" for the candidate nearest
// to typed, or "" when none is near enough to be a likely typo.
func suggest(typed string, candidates []string, prefix string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(typed, c)
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := 1
	if len(typed) > 4 {
		limit = 2
	}
	if bestDist >= 0 && bestDist <= limit && bestDist < len(typed) {
		return fmt.Sprintf("; did you mean %s%s?", prefix, best)
	}
	// A unique prefix is a flag cut short: --determ for --deterministic.
	var prefixed []string
	for _, c := range candidates {
		if len(typed) >= 3 && strings.HasPrefix(c, typed) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return fmt.Sprintf("; did you mean %s%s?", prefix, prefixed[0])
	}
	return ""
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent bytes each
// cost 1, the usual slips of a typist.
func editDistance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j]; three rows suffice.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// unknownCommand is the error for a command isle does not have.
func unknownCommand(name string) error {
	return usagef("unknown command %q%s", name, orHelp(suggest(name, commandNames(), ""), "run 'isle help' for the commands"))
}

// orHelp is the suggestion if there is one, else "; " and where to look.
func orHelp(suggestion, where string) string {
	if suggestion != "" {
		return suggestion
	}
	return "; " + where
}

// printHelp prints one command's usage, what it does and its flags.
func (c *command) printHelp(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", c.usage, c.about)
	if c.flags != nil {
		fs := c.flags()
		fs.SetOutput(w)
		fmt.Fprintf(w, "\nFlags:\n")
		fs.PrintDefaults()
	}
	if c.name == "run" {
		fmt.Fprintf(w, "\n%s", exitStatusHelp)
	}
}

const exitStatusHelp = `Exit status:
  0-123  the guest's own exit code
  124    --timeout expired
  125    isle itself failed
  126    bad usage, or a module that cannot be loaded
  127    the guest exited with a code of 124 or more (printed on stderr)
  130    interrupted (SIGINT or SIGTERM)
  134    the guest was abandoned: a trap, exhausted fuel or a runtime abort
  137    the guest was killed
`

// printHelp prints isle's help: its commands, then run's help in full,
// since run is what most people come for.
func printHelp(w io.Writer) {
	fmt.Fprintf(w, "isle runs WebAssembly programs as software-isolated processes.\n\n")
	for i, c := range commands {
		lead := "usage: "
		if i > 0 {
			lead = "       "
		}
		fmt.Fprintf(w, "%s%s\n", lead, c.usage)
	}
	fmt.Fprintf(w, "\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'isle help COMMAND' or 'isle COMMAND --help' for a command's flags.\n\n")
	findCommand("run").printHelp(w)
}
