package modbusmap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// maxConfigBytes bounds a map file: the largest sensible map is a few kilobytes.
const maxConfigBytes = 1 << 20

// Load decodes a register map from YAML strictly (an unknown key is an error naming it and
// its line; so is a second document) and validates it.
//
//	name: eastron-sdm630
//	max_gap: 0
//	registers:
//	  - {channel: u_a, table: input, address: 0x0000, type: float32, scale: 1000}
//	  - {channel: e_imp, table: input, address: 0x0048, type: float32, scale: 1000, counter: true}
func Load(r io.Reader) (Map, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return Map{}, fmt.Errorf("modbus map: %w", err)
	}
	if len(data) > maxConfigBytes {
		return Map{}, fmt.Errorf("modbus map: larger than %d bytes", maxConfigBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m Map
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return Map{}, errors.New("modbus map: empty document")
		}
		return Map{}, fmt.Errorf("modbus map: %w", err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return Map{}, fmt.Errorf("modbus map: line %d: want one YAML document, found another", extra.Line)
	case !errors.Is(err, io.EOF):
		return Map{}, fmt.Errorf("modbus map: after the first document: %w", err)
	}
	if err := m.Validate(); err != nil {
		return Map{}, err
	}
	return m, nil
}

// LoadFile loads a register map from a YAML file (see Load).
func LoadFile(path string) (Map, error) {
	f, err := os.Open(path)
	if err != nil {
		return Map{}, fmt.Errorf("modbus map: %w", err)
	}
	defer f.Close()
	m, err := Load(f)
	if err != nil {
		return Map{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}
