-- Repository secrets, encrypted by Slipway before they reach the database (XChaCha20-Poly1305,
-- one random nonce per value, the name bound in); nonce and ciphertext are base64 text.
CREATE TABLE repository_secrets (
    repository_id BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name          TEXT   NOT NULL,
    nonce         TEXT   NOT NULL,
    ciphertext    TEXT   NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (repository_id, name)
);
