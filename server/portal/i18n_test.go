package portal

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readMessages(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("web", "src", "i18n", lang+".json"))
	require.NoError(t, err)
	var m map[string]string
	require.NoError(t, json.Unmarshal(b, &m), "%s.json", lang)
	return m
}

var placeholder = regexp.MustCompile(`\{\w+\}`)

// TestMessagesInBothLanguages: every message is in English and in
// Simplified Chinese, not empty, with the same placeholders.
func TestMessagesInBothLanguages(t *testing.T) {
	en, zh := readMessages(t, "en"), readMessages(t, "zh")
	for k, v := range en {
		z, ok := zh[k]
		if !assert.True(t, ok, "%q has no Chinese", k) {
			continue
		}
		assert.NotEmpty(t, strings.TrimSpace(v), "%q: empty English", k)
		assert.NotEmpty(t, strings.TrimSpace(z), "%q: empty Chinese", k)
		pe, pz := placeholder.FindAllString(v, -1), placeholder.FindAllString(z, -1)
		slices.Sort(pe)
		slices.Sort(pz)
		assert.Equal(t, pe, pz, "%q: placeholders", k)
	}
	for k := range zh {
		assert.Contains(t, en, k, "%q has no English", k)
	}
}

// messageCall is a message the sources ask for by a literal key.
var messageCall = regexp.MustCompile(`\bt\(\s*"([A-Za-z0-9_.-]+)"`)

// TestEveryKeyUsedExists: each t("key") of the sources is a message, so
// no string shows as its key in either language.
func TestEveryKeyUsedExists(t *testing.T) {
	en := readMessages(t, "en")
	n := 0
	err := filepath.WalkDir(filepath.Join("web", "src"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".ts") || strings.HasSuffix(p, ".tsx")) || strings.HasSuffix(p, ".d.ts") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range messageCall.FindAllStringSubmatch(string(b), -1) {
			n++
			assert.Contains(t, en, m[1], "%s asks for %q", p, m[1])
		}
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, n, 100, "the sources' message keys were found")
}

// TestEnumsTranslated: the values of the API's enums the portal shows
// (states, kinds, roles, policies) each have a message, so a value the API
// gains fails here until it is translated.
func TestEnumsTranslated(t *testing.T) {
	en := readMessages(t, "en")
	b, err := os.ReadFile(filepath.Join("..", "api", "testdata", "openapi.golden.json"))
	require.NoError(t, err)
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Enum []string `json:"enum"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	for schema, prefix := range map[string]string{
		"Phase": "state.", "PowerState": "state.", "TaskState": "task.", "StepState": "step.", "HostState": "host.",
		"InstanceType": "type.", "HostKind": "kind.", "Role": "role.", "PlacementPolicy": "policy.", "TaskKind": "taskKind.",
	} {
		values := doc.Components.Schemas[schema].Enum
		require.NotEmpty(t, values, "enum %s in the OpenAPI document", schema)
		for _, v := range values {
			assert.Contains(t, en, prefix+v, "%s %q has no message", schema, v)
		}
	}
}
