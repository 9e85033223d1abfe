package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// Every route the API serves is in the OpenAPI document, and the document
// lists nothing the API does not serve.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	New(Config{}) // registers Routes
	var doc struct {
		OpenAPI string                            `json:"openapi"`
		Paths   map[string]map[string]interface{} `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	served := map[string]bool{"GET /api/v1/health": true, "GET /api/v1/openapi.json": true}
	if len(Routes) < 20 {
		t.Fatalf("only %d routes registered", len(Routes))
	}
	for _, r := range Routes {
		served[r] = true
		method, path, _ := strings.Cut(r, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("%s is served but not documented", r)
		}
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			if !served[strings.ToUpper(m)+" "+path] {
				t.Errorf("%s %s is documented but not served", strings.ToUpper(m), path)
			}
		}
	}
}
