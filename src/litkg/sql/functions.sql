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
CREATE OR REPLACE MACRO litkg_canon(s) AS nullif(litkg_singular(litkg_strip_det(litkg_norm(s))), '');
-- Stable short ids from canonical strings.
CREATE OR REPLACE MACRO litkg_id(s) AS substr(md5(s), 1, 16);

