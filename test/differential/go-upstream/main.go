// A Go net/http app for the differential suite: it routes with http.ServeMux as a Go service
// would, and prints one JSON line per request it served (route, host, identity headers as
// r.Header reads them). The first line it prints is the port it listens on.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
)

var marker = regexp.MustCompile(`zz[0-9a-z]{8}`)

// The identity headers the authorizer sets, as a Go app reads them (canonical names only).
var identity = map[string]string{
	"identity-id": "X-Kratos-Identity-Id",
	"session-id":  "X-Kratos-Session-Id",
	"aal":         "X-Kratos-Aal",
	"email":       "X-User-Email",
	"jwt":         "X-Kratos-Jwt",
}

type served struct {
	Framework string            `json:"framework"`
	Marker    string            `json:"marker"`
	Route     string            `json:"route"`
	Host      string            `json:"host"`
	Method    string            `json:"method"`
	Identity  map[string]string `json:"identity"`
}

// The virtual hosts the app serves apart, by host name whatever the port.
func hostRoute(host string) string {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	switch strings.TrimSuffix(strings.ToLower(name), ".") {
	case "admin.example.com":
		return "admin-host"
	case "secure.example.com":
		return "secure-port"
	}
	return ""
}

func handler(route string, out *json.Encoder) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		chosen := route
		if byHost := hostRoute(r.Host); byHost != "" {
			chosen = byHost
		}
		found := map[string]string{}
		for key, name := range identity {
			if values := r.Header.Values(name); len(values) > 0 {
				found[key] = strings.Join(values, ", ")
			}
		}
		id := r.Header.Get("X-Diff-Marker")
		if id == "" {
			id = marker.FindString(r.RequestURI)
		}
		record := served{Framework: "go", Marker: id, Route: chosen, Host: r.Host, Method: r.Method, Identity: found}
		_ = out.Encode(record)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(record)
	}
}

func main() {
	out := json.NewEncoder(os.Stdout)
	mux := http.NewServeMux()
	mux.HandleFunc("/admin", handler("admin", out))
	mux.HandleFunc("/admin/", handler("admin", out))
	mux.HandleFunc("/public/", handler("public", out))
	mux.HandleFunc("DELETE /data/", handler("no-delete", out))
	mux.HandleFunc("/", handler("default", out))
	// As gorilla/handlers' HTTPMethodOverrideHandler: a POST may say which method it means.
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if override := r.Header.Get("X-HTTP-Method-Override"); r.Method == http.MethodPost && override != "" {
			r.Method = strings.ToUpper(override)
		}
		mux.ServeHTTP(w, r)
	})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(listener.Addr().(*net.TCPAddr).Port)
	fmt.Fprintln(os.Stderr, http.Serve(listener, app))
	os.Exit(1)
}
