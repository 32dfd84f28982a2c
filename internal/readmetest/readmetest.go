// Package readmetest checks that the README files show code and
// configuration that the tests compile, run or load: a fenced block of a
// README is compared, line by line with comments and alignment aside, with
// the text between two marker lines of a test file, or with a file the
// tests load. The same checks serve README.md and its translations
// (README.zh-CN.md), so a translated snippet cannot drift from the tested
// one.
package readmetest

import (
	"fmt"
	"os"
	"strings"
)

// Block returns the body of the first fenced block of language lang
// (```lang) after the first line that starts with heading in the Markdown
// file named file, or an error naming what is missing.
func Block(file, heading, lang string) (string, error) {
	doc, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	s := "\n" + string(doc)
	i := strings.Index(s, "\n"+heading)
	if i < 0 {
		return "", fmt.Errorf("%s has no heading %q", file, heading)
	}
	blocks := fenced(s[i:], lang)
	if len(blocks) == 0 {
		return "", fmt.Errorf("%s has no ```%s block after %q", file, lang, heading)
	}
	return blocks[0], nil
}

// Blocks returns the bodies of every fenced block of language lang in the
// Markdown file named file.
func Blocks(file, lang string) ([]string, error) {
	doc, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return fenced("\n"+string(doc), lang), nil
}

// fenced returns the bodies of the ```lang blocks of s, in order.
func fenced(s, lang string) []string {
	var out []string
	open := "\n```" + lang + "\n"
	for {
		i := strings.Index(s, open)
		if i < 0 {
			return out
		}
		s = s[i+len(open):]
		j := strings.Index(s, "\n```")
		if j < 0 {
			return out
		}
		out = append(out, s[:j+1])
		s = s[j+4:]
	}
}

// Between returns the lines of the file named file strictly between the
// first line containing begin and the next line containing end.
func Between(file, begin, end string) (string, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		if !strings.Contains(l, begin) {
			continue
		}
		for j := i + 1; j < len(lines); j++ {
			if strings.Contains(lines[j], end) {
				return strings.Join(lines[i+1:j], "\n") + "\n", nil
			}
		}
		return "", fmt.Errorf("%s: no %q after %q", file, end, begin)
	}
	return "", fmt.Errorf("%s: no %q", file, begin)
}

// Lines returns the lines of s without comments (from comment to the end
// of the line; "//" for Go, "#" for YAML and shell) and with whitespace
// collapsed, dropping lines left empty. Comments may so be translated, and
// alignment changed, without the code changing.
func Lines(s, comment string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, comment); i >= 0 {
			l = l[:i]
		}
		l = strings.Join(strings.Fields(l), " ")
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Diff returns "" when got and want are the same lines, and otherwise a
// message showing both, with the first line that differs.
func Diff(got, want []string) string {
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("line %d is %q, want %q\n\ngot:\n%s\n\nwant:\n%s", i+1, g, w,
				strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	return ""
}
