package shape

import (
	"errors"
	"testing"
)

func TestNestingLimit(t *testing.T) {
	lim := Limits{Nesting: 100}
	if err := Check((&modBuilder{}).fn(body(nest(0x02, 100))).bytes(), lim); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	err := Check((&modBuilder{}).fn(body(nest(0x02, 101))).bytes(), lim)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "Nesting" || le.Value != 101 || !errors.Is(err, ErrShape) {
		t.Fatalf("over the limit: %v", err)
	}
	t.Log(err)
}
