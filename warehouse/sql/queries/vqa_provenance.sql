-- Every accepted VQA item with its path, each rewrite step, its image with licence and every gate verdict.
SELECT v.item_id, v.question, v.answer,
       list_transform(v.nodes, lambda n: n.title || ' [' || n.role || ']') AS path,
       list_transform(v.edges, lambda e: e.relation) AS relations,
       (SELECT list(r.entity || ' -> ' || coalesce(r.chosen, '(none)') || ' (' || len(r.candidates) || ' tried)'
                    ORDER BY r.step)
          FROM rewrite_steps r WHERE r.item_id = v.item_id) AS rewrite_steps,
       v.image_file_name, v.image_sha256, v.image_license, v.image_author, v.image_source_url,
       v.image_score, v.image_method,
       (SELECT list(g.gate || '=' || g.verdict || ' (' || round(g.score, 3) || ')' ORDER BY g.gate)
          FROM gate_verdicts g WHERE g.item_id = v.item_id) AS gates,
       v.method, v.dump_date
FROM vqa_items v ORDER BY v.item_id
