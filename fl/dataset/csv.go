package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// CSVConfig configures [ReadCSV].
type CSVConfig struct {
	// LabelColumn is the column holding the integer label; a negative
	// value counts from the end (−1 is the last column).
	LabelColumn int
	// Header says that the first record names the columns and is skipped.
	Header bool
	// Classes is the number of classes; 0 means max label + 1.
	Classes int
	// MaxRows bounds the number of data rows; 0 means no bound (memory
	// then grows with the input, never ahead of it).
	MaxRows int
}

// Validate reports whether c is usable; the error wraps [ErrInvalid].
func (c CSVConfig) Validate() error {
	if c.Classes < 0 {
		return fmt.Errorf("%w: CSVConfig.Classes = %d, want ≥ 0", ErrInvalid, c.Classes)
	}
	if c.MaxRows < 0 {
		return fmt.Errorf("%w: CSVConfig.MaxRows = %d, want ≥ 0", ErrInvalid, c.MaxRows)
	}
	return nil
}

// ReadCSV reads a data set from comma-separated text (RFC 4180, as
// encoding/csv reads it): one example per record, every record with the
// same number of fields, one integer label column and the other columns
// as float features (at least one). Labels must be in [0, Classes) when
// cfg.Classes is set and ≥ 0 otherwise; features must be finite.
//
// Errors name the line and column and wrap [ErrMalformed] (unparsable or
// ragged text), [ErrInvalid] (label out of range, NaN or Inf feature) or
// [ErrTooLarge] (more than MaxRows rows).
func ReadCSV(r io.Reader, cfg CSVConfig) (*Dataset, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	d := &Dataset{}
	label := -1
	maxLabel := -1
	for rows := 0; ; {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%w: CSV: %v", ErrMalformed, pe)
			}
			return nil, fmt.Errorf("dataset: CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if label < 0 {
			if len(rec) < 2 {
				return nil, fmt.Errorf("%w: CSV line %d: %d field(s), want a label and at least one feature", ErrMalformed, line, len(rec))
			}
			label = cfg.LabelColumn
			if label < 0 {
				label += len(rec)
			}
			if label < 0 || label >= len(rec) {
				return nil, fmt.Errorf("%w: CSV: LabelColumn = %d with %d columns", ErrInvalid, cfg.LabelColumn, len(rec))
			}
			d.Dim = len(rec) - 1
			if cfg.Header {
				continue
			}
		}
		if cfg.MaxRows > 0 && rows >= cfg.MaxRows {
			return nil, fmt.Errorf("%w: CSV: more than MaxRows = %d rows", ErrTooLarge, cfg.MaxRows)
		}
		rows++
		for j, field := range rec {
			field = strings.TrimSpace(field)
			if j == label {
				y, err := strconv.Atoi(field)
				if err != nil {
					return nil, fmt.Errorf("%w: CSV line %d column %d: label %q is not an integer", ErrMalformed, line, j+1, field)
				}
				if y < 0 || (cfg.Classes > 0 && y >= cfg.Classes) {
					return nil, fmt.Errorf("%w: CSV line %d column %d: label %d out of range", ErrInvalid, line, j+1, y)
				}
				maxLabel = max(maxLabel, y)
				d.Y = append(d.Y, y)
				continue
			}
			v, err := strconv.ParseFloat(field, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: CSV line %d column %d: %q is not a number", ErrMalformed, line, j+1, field)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: CSV line %d column %d: feature is %v", ErrInvalid, line, j+1, v)
			}
			d.X = append(d.X, v)
		}
	}
	if label < 0 {
		return nil, fmt.Errorf("%w: CSV: no records", ErrMalformed)
	}
	d.Classes = cfg.Classes
	if d.Classes == 0 {
		d.Classes = max(maxLabel+1, 1)
	}
	return d, nil
}
