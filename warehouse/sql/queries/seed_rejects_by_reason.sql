-- Why seeds were dropped by path sampling: one row per reason.
SELECT reason, count(*) AS seeds
FROM rejects WHERE stage = 'sample_paths'
GROUP BY reason ORDER BY seeds DESC, reason
