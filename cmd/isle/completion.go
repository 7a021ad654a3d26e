package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// flagValues says what completes the value of a flag, by flag name:
// "dir" for directory names, "none" for a value no file name can be. The
// values of other flags complete as file names.
var flagValues = map[string]string{
	"dir": "dir", "ro-dir": "dir", "cache-dir": "dir", "data-dir": "dir",
	"env": "none", "memory": "none", "timeout": "none", "fuel": "none", "http": "none", "admin": "none",
}

// compFlag is a flag as completion sees it.
type compFlag struct {
	name, about string
	value       string // "": a bool flag; else "dir", "none" or "file"
}

func (c *command) compFlags() []compFlag {
	if c.flags == nil {
		return nil
	}
	var out []compFlag
	c.flags().VisitAll(func(f *flag.Flag) {
		cf := compFlag{name: f.Name, about: shortAbout(f)}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
			cf.value = flagValues[f.Name]
			if cf.value == "" {
				cf.value = "file"
			}
		}
		out = append(out, cf)
	})
	return out
}

// shortAbout is a flag's usage up to its first clause, without the
// characters the shells' quoting would need to escape.
func shortAbout(f *flag.Flag) string {
	_, about := flag.UnquoteUsage(f)
	if i := strings.IndexAny(about, ",;(:"); i > 0 {
		about = about[:i]
	}
	return plain(about)
}

func plain(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune("'\"`[]:\\$", r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// completionCmd prints the completion script for a shell.
func completionCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 {
		switch args[0] {
		case "bash":
			writeBash(stdout)
			return 0
		case "zsh":
			writeZsh(stdout)
			return 0
		case "fish":
			writeFish(stdout)
			return 0
		}
	}
	fmt.Fprintf(stderr, "isle: usage: isle completion bash|zsh|fish\n")
	return statusUsage
}

// flagNames lists a command's flags with the given values, each spelled
// both ways Go's flag package reads them.
func flagNames(flags []compFlag, values ...string) string {
	var out []string
	for _, f := range flags {
		for _, v := range values {
			if f.value == v {
				out = append(out, "--"+f.name, "-"+f.name)
			}
		}
	}
	return strings.Join(out, " ")
}

func writeBash(w io.Writer) {
	fmt.Fprintf(w, `# bash completion for isle. Load it with: source <(isle completion bash)
_isle_reply() {
	mapfile -t COMPREPLY < <(compgen "$@" -- "$cur")
}

_isle() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} i
	COMPREPLY=()
	# bash splits --flag=value at the =.
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD > 2)); then
		prev=${COMP_WORDS[COMP_CWORD-2]}
	fi
	if ((COMP_CWORD == 1)); then
		_isle_reply -W '%s --help --version'
		return
	fi
	for ((i = 2; i < COMP_CWORD; i++)); do
		if [[ ${COMP_WORDS[i]} == -- ]]; then
			_isle_reply -f # the guest's arguments
			return
		fi
	done
	local flags= dirs= none= files= pos=files words=
	case ${COMP_WORDS[1]} in
`, strings.Join(commandNames(), " "))
	for _, c := range commands {
		fl := c.compFlags()
		fmt.Fprintf(w, "\t%s)\n", c.name)
		fmt.Fprintf(w, "\t\tflags='%s'\n", flagNames(fl, "", "dir", "none", "file"))
		fmt.Fprintf(w, "\t\tdirs=' %s '\n", flagNames(fl, "dir"))
		fmt.Fprintf(w, "\t\tnone=' %s '\n", flagNames(fl, "none"))
		fmt.Fprintf(w, "\t\tfiles=' %s '\n", flagNames(fl, "file"))
		if c.words != nil {
			fmt.Fprintf(w, "\t\tpos=words words='%s'\n", strings.Join(c.words(), " "))
		}
		fmt.Fprintf(w, "\t\t;;\n")
	}
	fmt.Fprint(w, `	*)
		_isle_reply -f
		return
		;;
	esac
	case " $dirs " in *" $prev "*)
		_isle_reply -d
		return
		;;
	esac
	case " $none " in *" $prev "*)
		return
		;;
	esac
	case " $files " in *" $prev "*)
		_isle_reply -f
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		_isle_reply -W "$flags --help"
	elif [[ $pos == words ]]; then
		_isle_reply -W "$words"
	else
		_isle_reply -f
	fi
}

complete -o filenames -F _isle isle
`)
}

func writeZsh(w io.Writer) {
	fmt.Fprint(w, `#compdef isle
# zsh completion for isle. Load it with: source <(isle completion zsh)
# after compinit, or save it as _isle in a directory of $fpath.
_isle() {
	local -a cmds
	cmds=(
`)
	for _, c := range commands {
		fmt.Fprintf(w, "\t\t'%s:%s'\n", c.name, plain(c.summary))
	}
	fmt.Fprint(w, `	)
	if (( CURRENT == 2 )); then
		_describe -t commands 'isle command' cmds
		_arguments '(-)--help[print help]' '(-)--version[print versions]'
		return
	fi
	local cmd=$words[2]
	shift words
	(( CURRENT-- ))
	case $cmd in
`)
	for _, c := range commands {
		fmt.Fprintf(w, "\t%s)\n\t\t_arguments -S '(-)--help[print help]'", c.name)
		for _, f := range c.compFlags() {
			switch f.value {
			case "":
				fmt.Fprintf(w, " \\\n\t\t\t'--%s[%s]'", f.name, f.about)
			case "dir":
				fmt.Fprintf(w, " \\\n\t\t\t'*--%s=[%s]:directory:_files -/'", f.name, f.about)
			case "none":
				fmt.Fprintf(w, " \\\n\t\t\t'*--%s=[%s]:value: '", f.name, f.about)
			default:
				fmt.Fprintf(w, " \\\n\t\t\t'*--%s=[%s]:file:_files'", f.name, f.about)
			}
		}
		switch {
		case c.words == nil:
			fmt.Fprint(w, " \\\n\t\t\t'*:file:_files'")
		case len(c.words()) > 0:
			fmt.Fprintf(w, " \\\n\t\t\t'1:argument:(%s)'", strings.Join(c.words(), " "))
		}
		fmt.Fprint(w, "\n\t\t;;\n")
	}
	fmt.Fprint(w, `	*)
		_files
		;;
	esac
}

if [[ $funcstack[1] == _isle ]]; then
	_isle "$@"
else
	compdef _isle isle
fi
`)
}

func writeFish(w io.Writer) {
	fmt.Fprint(w, `# fish completion for isle. Load it with: isle completion fish | source
complete -c isle -f
complete -c isle -n __fish_use_subcommand -l help -d 'print help'
complete -c isle -n __fish_use_subcommand -l version -d 'print versions'
`)
	for _, c := range commands {
		fmt.Fprintf(w, "complete -c isle -n __fish_use_subcommand -a %s -d '%s'\n", c.name, plain(c.summary))
	}
	for _, c := range commands {
		cond := fmt.Sprintf("-n '__fish_seen_subcommand_from %s'", c.name)
		fmt.Fprintf(w, "complete -c isle %s -l help -d 'print help'\n", cond)
		for _, f := range c.compFlags() {
			var how string
			switch f.value {
			case "":
			case "dir":
				how = " -x -a '(__fish_complete_directories)'"
			case "none":
				how = " -x"
			default:
				how = " -r -F"
			}
			fmt.Fprintf(w, "complete -c isle %s -l %s%s -d '%s'\n", cond, f.name, how, f.about)
		}
		switch {
		case c.words == nil:
			fmt.Fprintf(w, "complete -c isle %s -F\n", cond)
		case len(c.words()) > 0:
			fmt.Fprintf(w, "complete -c isle %s -x -a '%s'\n", cond, strings.Join(c.words(), " "))
		}
	}
}
