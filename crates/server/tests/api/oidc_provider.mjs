// The OpenID provider the single sign-on tests sign in through: the
// `oidc-provider` package (a certified implementation), as `cargo xtask
// test` installs it, with one confidential client for Sightline and its
// development login screen (any password; the login is the account's
// e-mail address). Accounts' groups come from the command line.
//
//   node oidc_provider.mjs MODULE PORT REDIRECT_URI GROUPS_JSON
//
// Prints "listening" once it answers.
const [module, port, redirectUri, groupsJson] = process.argv.slice(2);
const { default: Provider } = await import(module);
const groups = JSON.parse(groupsJson || "{}");

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: "sightline",
      client_secret: "sightline-client-secret",
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name"],
    groups: ["groups"],
  },
  scopes: ["openid", "email", "profile", "groups"],
  // ID tokens carry the claims themselves (no userinfo call needed).
  conformIdTokenClaims: false,
  cookies: { keys: ["sightline-tests-only"] },
  // ID tokens are read the moment they arrive; a minute is plenty, and
  // lets a test see one expire.
  ttl: { IdToken: 60 },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: id,
          // An address starting with "unverified" is one the provider does
          // not vouch for.
          email_verified: !id.startsWith("unverified"),
          name: id.split("@")[0],
          groups: groups[id] ?? [],
        };
      },
    };
  },
});
provider.proxy = false;
provider.listen(Number(port), "127.0.0.1", () => console.log("listening"));
