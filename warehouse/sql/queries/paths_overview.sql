-- Sampled paths with their node titles and roles, relations and answer.
SELECT path_id, wiki, domain, hops,
       list_transform(nodes, lambda n: n.title || ' [' || n.role || ']') AS nodes,
       list_transform(edges, lambda e: e.relation) AS relations,
       answer_attribute, answer, retries
FROM paths ORDER BY seed_title
