-- Dropped units by stage and reason (the `rejects` view), in pipeline order: the run artifact's rejects table.
SELECT stage, reason, count(*) AS n FROM rejects GROUP BY stage, reason
ORDER BY CASE stage WHEN 'ingest' THEN 0 WHEN 'sample_paths' THEN 1 WHEN 'questions' THEN 2 WHEN 'pool' THEN 3
         WHEN 'filter' THEN 4 WHEN 'enhance' THEN 5 WHEN 'synthesis' THEN 6 WHEN 'export' THEN 7 ELSE 8 END, n DESC, reason
