package remote

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// S3ConfigFromEnv resolves region, endpoint and credentials as the AWS CLI
// does, from the environment that getenv reads:
//
//   - credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
//     AWS_SESSION_TOKEN; else those of the profile AWS_PROFILE ("default"
//     when unset) in the shared credentials file, then in the config file;
//   - region: AWS_REGION, AWS_DEFAULT_REGION, the profile's region in the
//     config file, us-east-1;
//   - endpoint: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's
//     endpoint_url in the config file, AWS.
//
// The files are ~/.aws/credentials, whose sections are profile names, and
// ~/.aws/config, whose sections are [default] and [profile NAME];
// AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE name others. A profile
// named by AWS_PROFILE must be in one of them. Credentials that a profile
// gets by role_arn, sso_session or credential_process are not resolved:
// such a profile is an error, and exporting the keys it gives the way out.
func S3ConfigFromEnv(getenv func(string) string) (S3Config, error) {
	profile, explicit := getenv("AWS_PROFILE"), true
	if profile == "" {
		profile, explicit = "default", false
	}
	credPath := awsFile(getenv, "AWS_SHARED_CREDENTIALS_FILE", "credentials")
	confPath := awsFile(getenv, "AWS_CONFIG_FILE", "config")
	credFile, err := readSections(credPath)
	if err != nil {
		return S3Config{}, err
	}
	confFile, err := readSections(confPath)
	if err != nil {
		return S3Config{}, err
	}
	fromCred, inCred := credFile[profile]
	fromConf, inConf := confFile[configSection(profile)]
	if !inConf && profile == "default" {
		fromConf, inConf = confFile["profile default"]
	}
	if explicit && !inCred && !inConf {
		return S3Config{}, fmt.Errorf("AWS profile %q is in neither %s nor %s", profile, credPath, confPath)
	}
	creds, err := resolveCredentials(getenv, profile, fromCred, fromConf)
	if err != nil {
		return S3Config{}, err
	}
	return S3Config{
		Region:      firstOf(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"), fromConf["region"]),
		Endpoint:    firstOf(getenv("AWS_ENDPOINT_URL_S3"), getenv("AWS_ENDPOINT_URL"), fromConf["endpoint_url"]),
		Credentials: creds,
	}, nil
}

// resolveCredentials takes the keys from the environment, or from the
// profile's section of the credentials file, or of the config file.
func resolveCredentials(getenv func(string) string, profile string, sections ...map[string]string) (Credentials, error) {
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	switch {
	case id != "" && secret != "":
		return Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: getenv("AWS_SESSION_TOKEN")}, nil
	case id != "":
		return Credentials{}, errors.New("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
	case secret != "":
		return Credentials{}, errors.New("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
	}
	for _, sec := range sections {
		id, secret := sec["aws_access_key_id"], sec["aws_secret_access_key"]
		switch {
		case id != "" && secret != "":
			return Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: sec["aws_session_token"]}, nil
		case id != "" || secret != "":
			return Credentials{}, fmt.Errorf("AWS profile %q has only one of aws_access_key_id and aws_secret_access_key", profile)
		}
	}
	for _, sec := range sections {
		for _, k := range []string{"role_arn", "sso_session", "sso_start_url", "credential_process", "web_identity_token_file"} {
			if sec[k] != "" {
				return Credentials{}, fmt.Errorf("AWS profile %q gets its credentials by %s, which is not supported: export AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN instead", profile, k)
			}
		}
	}
	return Credentials{}, nil
}

// configSection is the section of profile in the config file.
// [profile default] is taken for [default] too.
func configSection(profile string) string {
	if profile == "default" {
		return "default"
	}
	return "profile " + profile
}

// awsFile is the path the variable env gives, or ~/.aws/name.
func awsFile(getenv func(string) string, env, name string) string {
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	p := getenv(env)
	switch {
	case p == "":
		return filepath.Join(home, ".aws", name)
	case p == "~" || strings.HasPrefix(p, "~/"):
		return filepath.Join(home, p[1:])
	}
	return p
}

// readSections reads an AWS shared file: the keys of each section, by
// section name. Lines nested under a key (the "s3 =" of a services
// section) are skipped. A file that does not exist has no sections.
func readSections(path string) (map[string]map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sections := map[string]map[string]string{}
	var cur map[string]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' || line[0] == ' ' || line[0] == '\t':
		case strings.HasPrefix(trimmed, "[") && strings.HasSuffix(trimmed, "]"):
			name := strings.Join(strings.Fields(trimmed[1:len(trimmed)-1]), " ")
			if cur = sections[name]; cur == nil {
				cur = map[string]string{}
				sections[name] = cur
			}
		case cur != nil:
			if k, v, ok := strings.Cut(trimmed, "="); ok {
				cur[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return sections, nil
}

// firstOf is the first of values that is not empty.
func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
