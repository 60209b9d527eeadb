package remote

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestS3ConfigFromEnv(t *testing.T) {
	const creds = `# keys
[default]
aws_access_key_id = DEFAULTKEY
aws_secret_access_key = defaultsecret

[dev]
aws_access_key_id=DEVKEY
aws_secret_access_key=devsecret
aws_session_token = devtoken
`
	const config = `[default]
region = eu-west-1
endpoint_url = http://127.0.0.1:9000

[profile dev]
region = eu-central-1
s3 =
  endpoint_url = http://nested.invalid

[profile conf]
aws_access_key_id = CONFKEY
aws_secret_access_key = confsecret
endpoint_url = http://127.0.0.1:9100

[profile role]
role_arn = arn:aws:iam::123456789012:role/r
source_profile = default

[profile half]
aws_access_key_id = HALFKEY

[nameless]
region = ap-south-1
`
	env := map[string]string{"AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "envsecret"}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name          string
		env           map[string]string
		creds, config string
		want          string // key/secret/token region endpoint
		err           string
	}{
		{"nothing", nil, "", "", "// us-east-1 ", ""},
		{"environment", env, creds, config, "ENVKEY/envsecret/ eu-west-1 http://127.0.0.1:9000", ""},
		{"environment with token", with(env, "AWS_SESSION_TOKEN", "envtoken"), "", "", "ENVKEY/envsecret/envtoken us-east-1 ", ""},
		{"environment beats AWS_PROFILE", with(env, "AWS_PROFILE", "dev"), creds, config, "ENVKEY/envsecret/ eu-central-1 ", ""},
		{"default profile", nil, creds, config, "DEFAULTKEY/defaultsecret/ eu-west-1 http://127.0.0.1:9000", ""},
		{"AWS_PROFILE", with(nil, "AWS_PROFILE", "dev"), creds, config, "DEVKEY/devsecret/devtoken eu-central-1 ", ""},
		{"keys in the config file", with(nil, "AWS_PROFILE", "conf"), creds, config, "CONFKEY/confsecret/ us-east-1 http://127.0.0.1:9100", ""},
		{"AWS_REGION beats the file", with(nil, "AWS_REGION", "sa-east-1", "AWS_DEFAULT_REGION", "af-south-1"), creds, config, "DEFAULTKEY/defaultsecret/ sa-east-1 http://127.0.0.1:9000", ""},
		{"AWS_DEFAULT_REGION", with(nil, "AWS_DEFAULT_REGION", "af-south-1"), creds, config, "DEFAULTKEY/defaultsecret/ af-south-1 http://127.0.0.1:9000", ""},
		{"AWS_ENDPOINT_URL beats the file", with(nil, "AWS_ENDPOINT_URL", "http://e1"), creds, config, "DEFAULTKEY/defaultsecret/ eu-west-1 http://e1", ""},
		{"AWS_ENDPOINT_URL_S3 beats AWS_ENDPOINT_URL", with(nil, "AWS_ENDPOINT_URL", "http://e1", "AWS_ENDPOINT_URL_S3", "http://e2"), creds, config, "DEFAULTKEY/defaultsecret/ eu-west-1 http://e2", ""},
		{"[profile default]", nil, "", "[profile default]\nregion = us-west-2\n", "// us-west-2 ", ""},
		{"a section without profile is no profile", with(nil, "AWS_PROFILE", "nameless"), "", config, "", `AWS profile "nameless" is in neither`},
		{"missing profile", with(nil, "AWS_PROFILE", "nope"), creds, config, "", `AWS profile "nope" is in neither`},
		{"role", with(nil, "AWS_PROFILE", "role"), creds, config, "", `AWS profile "role" gets its credentials by role_arn, which is not supported`},
		{"half a key in a profile", with(nil, "AWS_PROFILE", "half"), creds, config, "", `AWS profile "half" has only one of aws_access_key_id and aws_secret_access_key`},
		{"half a key in the environment", with(nil, "AWS_ACCESS_KEY_ID", "ENVKEY"), creds, config, "", "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"},
		{"the other half", with(nil, "AWS_SECRET_ACCESS_KEY", "envsecret"), creds, config, "", "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"},
		{"files elsewhere", with(nil, "AWS_SHARED_CREDENTIALS_FILE", "~/elsewhere/c", "AWS_CONFIG_FILE", "{dir}/elsewhere/f"), creds, config, "DEVKEY/devsecret/ ap-south-1 ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			write(t, filepath.Join(home, ".aws", "credentials"), tt.creds)
			write(t, filepath.Join(home, ".aws", "config"), tt.config)
			write(t, filepath.Join(home, "elsewhere", "c"), "[default]\naws_access_key_id=DEVKEY\naws_secret_access_key=devsecret\n")
			write(t, filepath.Join(home, "elsewhere", "f"), "[default]\nregion=ap-south-1\n")
			getenv := func(k string) string {
				if k == "HOME" {
					return home
				}
				return strings.ReplaceAll(tt.env[k], "{dir}", home)
			}
			cfg, err := S3ConfigFromEnv(getenv)
			if tt.err != "" {
				if err == nil || !strings.Contains(seen(err).Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(seen(err))
			}
			c := cfg.Credentials
			got := fmt.Sprintf("%s/%s/%s %s %s", c.AccessKeyID, c.SecretAccessKey, c.SessionToken, cfg.region(), cfg.Endpoint)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if content == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCredentialsFormat(t *testing.T) {
	c := Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, SessionToken: testSessionToken}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%+v", S3Config{Credentials: c})} {
		seenName(s)
		if !strings.Contains(s, "not shown") {
			t.Errorf("credentials format as %q", s)
		}
	}
}
