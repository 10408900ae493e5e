-- Canonical entity keys: deterministic, pure, shared by the constructor and by users' SQL.
-- Unicode (NFC, accents stripped) and case folding; a trailing "(...)" dropped; punctuation and
-- hyphens become spaces; leading articles/possessives dropped; the head (last word) singular.
CREATE OR REPLACE MACRO litkg_norm(s) AS
    trim(regexp_replace(
        regexp_replace(lower(strip_accents(nfc_normalize(s))), '\s*\([^()]*\)\s*$', ''),
        '[^\pL\pN]+', ' ', 'g'));
CREATE OR REPLACE MACRO litkg_strip_det(s) AS
    regexp_replace(regexp_replace(s, '^((the|a|an|our|their|its|this|these|those) )+', ''),
                   '(\S) (benchmark|dataset|data set|corpus|setting|regime|scenario)$', '\1');
CREATE OR REPLACE MACRO litkg_singular(s) AS CASE
    WHEN regexp_matches(s, '(series|species|news|physics|mathematics|analysis|diabetes|ethics|statistics|linguistics|robotics|genomics|dynamics|bayes|gauss)$') THEN s
    WHEN regexp_matches(s, '\pL{2}ies$') THEN regexp_replace(s, 'ies$', 'y')
    ELSE regexp_replace(s, '([\pL\pN]{2,}[^suia\s\pN])s$', '\1') END;
-- Short forms keep their identity: a single token with two or more capitals, more capitals
-- than lower-case letters (KD, SARS, mRNA, BiLSTM) is case-sensitive and never singularised,
-- so AIDS is not "aid" and SARS is not SAR; only a plural "s" after a capital goes (CNNs).
CREATE OR REPLACE MACRO litkg_token(s) AS
    regexp_replace(trim(strip_accents(nfc_normalize(s))),
                   '^((?i:the|a|an|our|their|its|this|these|those)\s+)+', '');
CREATE OR REPLACE MACRO litkg_acronym_key(t) AS CASE
    WHEN regexp_full_match(t, '[\pL\pN][\pL\pN./-]*')
     AND length(regexp_replace(t, '[^\p{Lu}]', '', 'g')) >= 2
     AND length(regexp_replace(t, '[^\p{Lu}]', '', 'g'))
         > length(regexp_replace(t, '[^\p{Ll}]', '', 'g'))
    THEN nullif(trim(regexp_replace(regexp_replace(t, '(\p{Lu})s$', '\1'),
                                    '[^\pL\pN]+', ' ', 'g')), '')
    END;
CREATE OR REPLACE MACRO litkg_canon(s) AS coalesce(
    litkg_acronym_key(litkg_token(s)),
    nullif(litkg_singular(litkg_strip_det(litkg_norm(s))), ''));
-- Stable short ids from canonical strings.
CREATE OR REPLACE MACRO litkg_id(s) AS substr(md5(s), 1, 16);

