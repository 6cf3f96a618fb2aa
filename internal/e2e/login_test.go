package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// TestWrongPasswordTenTimes: with the default throttle, ten wrong passwords
// get 401 and then 429 with a clear message; afterwards even the right
// password is refused until the window passes, and nothing stored changed.
func TestWrongPasswordTenTimes(t *testing.T) {
	te := testenv.New(t, testenv.Options{NoTenant: true})
	ctx, s, srvURL := te.Ctx, te.Server, te.URL
	demo, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	userBefore, err := s.Store.FindUserByEmail(ctx, demo.Email)
	if err != nil {
		t.Fatal(err)
	}
	login := func(password string) (int, string) {
		t.Helper()
		resp, err := client.Get(srvURL + "/console/login")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := csrfRE.FindSubmatch(page)
		if m == nil {
			t.Fatalf("login page has no CSRF token:\n%s", page)
		}
		resp, err = client.PostForm(srvURL+"/console/login", url.Values{
			"csrf_token": {string(m[1])}, "email": {demo.Email}, "password": {password},
		})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	var statuses []int
	for i := 0; i < 10; i++ {
		status, body := login("wrong password")
		statuses = append(statuses, status)
		switch status {
		case http.StatusUnauthorized:
			if !strings.Contains(body, "incorrect") {
				t.Fatalf("401 page does not say the password is incorrect:\n%s", body)
			}
		case http.StatusTooManyRequests:
			if !strings.Contains(strings.ToLower(body), "too many") {
				t.Fatalf("429 page does not explain the lock:\n%s", body)
			}
		default:
			t.Fatalf("attempt %d: status %d", i+1, status)
		}
	}
	if statuses[0] != 401 || statuses[9] != 429 {
		t.Fatalf("statuses %v: want 401s, then 429s", statuses)
	}
	if status, _ := login(demo.Password); status != http.StatusTooManyRequests {
		t.Fatalf("right password during the lock: %d, want 429", status)
	}
	userAfter, err := s.Store.FindUserByEmail(ctx, demo.Email)
	if err != nil {
		t.Fatal(err)
	}
	if *userAfter != *userBefore {
		t.Fatalf("the user changed: %+v -> %+v", userBefore, userAfter)
	}
	for _, c := range jar.Cookies(mustURL(srvURL)) {
		if c.Name == "gatehouse_session" {
			t.Fatal("a session cookie was set")
		}
	}
	t.Logf("statuses: %v", statuses)
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
