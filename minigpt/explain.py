"""What each stage, chapter and UI word means, in English and 中文. Plain data; the pages render it.

Keys of STAGE_TEXT are the catalogue keys of `minigpt.stages.CATALOGUE` (a test checks they match).
The Chinese uses the notebook's words: 词嵌入, 位置编码, 注意力, 掩码, 残差连接, 层归一化, 前馈网络.
"""
from __future__ import annotations

LANGUAGES = ("en", "zh")

STAGE_TEXT: dict[str, dict[str, str]] = {
    "embed.token": {
        "en": "Each token id picks one row of a learned table (nn.Embedding): a list of d_model numbers "
              "that stands for that token. Nothing is computed yet; it is a lookup. Look along a row: "
              "that is one token's vector. Two rows for the same token are identical, whatever comes before it.",
        "zh": "词嵌入：每个 token id 到一张可学习的表（nn.Embedding）里取出对应的一行——d_model 个数，这就是这个词的向量。"
              "这一步没有计算，只是查表。每一行对应一个词；同一个词无论出现在哪里，这一行都完全一样——"
              "模型此时还不知道词的顺序。",
    },
    "embed.position": {
        "en": "The sinusoidal positional encoding gives every position its own fixed vector: sine on even "
              "dimensions, cosine on odd ones, with wavelengths growing from left to right. The left columns "
              "flip quickly from row to row, the right columns barely change. It is not learned; the same "
              "table is used for every text.",
        "zh": "正弦位置编码给每个位置一个固定的向量：偶数维用 sin，奇数维用 cos，从左到右波长越来越长。"
              "图中左边几列随位置快速正负交替，右边几列几乎不变。它不需要学习，所有文本共用同一张表。",
    },
    "embed.sum": {
        "en": "The token vector and the position vector are simply added. Now the same word at two positions "
              "has two different vectors, and this is the only way the model learns about order. "
              "Compare with the token embedding: the stripes of the position table show through.",
        "zh": "把词向量和位置向量直接相加。这样同一个词出现在不同位置时，向量就不同了——"
              "这是模型知道词序的唯一途径。和词嵌入那张图比一比：位置编码的条纹透了出来。",
    },
    "attn.q": {
        "en": "Queries: each position's vector times the matrix Wq, then cut into num_heads pieces of d_k "
              "numbers, one per head. A query is what this token is looking for. The heatmap shows one head: "
              "positions down, the d_k query numbers across.",
        "zh": "查询 Q：每个位置的向量乘以矩阵 Wq，再切成 num_heads 份，每个注意力头分到 d_k 个数。"
              "Q 表示“这个词想找什么”。图中是一个头：纵轴是位置，横轴是 d_k 个维度。",
    },
    "attn.k": {
        "en": "Keys: the same vectors times a different matrix Wk, split into heads the same way. A key is "
              "what this token offers to others. A query and a key that point the same way give a large "
              "score in the next step. Compare a row here with the same row of Q: the same token, different numbers, "
              "because Wq and Wk are different matrices.",
        "zh": "键 K：同样的向量乘以另一个矩阵 Wk，按同样方式拆成多个头。K 表示“这个词能提供什么”。"
              "下一步里，方向相近的 Q 和 K 会得到较大的分数。把这里的某一行和 Q 的同一行比较：同一个词，数字却不同，"
              "因为 Wq 和 Wk 是两个不同的矩阵。",
    },
    "attn.v": {
        "en": "Values: a third projection, Wv. A value is what a token hands over once someone attends to "
              "it. The attention weights will decide how much of each row of V goes into each output, so keep this "
              "heatmap in mind when you reach Weights @ V.",
        "zh": "值 V：第三个投影 Wv。V 是一个词被“关注”之后真正交出去的内容。"
              "后面的注意力权重决定每个输出从 V 的各行里各取多少；看到“权重 @ V”那一步时，可以回来对照这张图。",
    },
    "attn.scores": {
        "en": "Every query is compared with every key by a dot product, giving a T×T table: row i, column j "
              "says how well token i's query matches token j's key. Dividing by √d_k keeps the numbers in a "
              "range where softmax is not saturated. Red cells are strong matches, blue ones are mismatches.",
        "zh": "每个查询和每个键做点积，得到 T×T 的分数表：第 i 行第 j 列表示第 i 个词的 Q 与第 j 个词的 K 有多匹配。"
              "除以 √d_k 是为了让数值不要太大，避免 softmax 饱和。红色是匹配得好，蓝色是不匹配。",
    },
    "attn.mask": {
        "en": "The causal mask is an upper triangle of True: for query i, every key j > i is in the future. "
              "While generating text those tokens do not exist yet, so in training the model must not peek "
              "at them either. Grey cells are masked, blue cells may be looked at.",
        "zh": "因果掩码是一个上三角为 True 的矩阵：对第 i 个查询来说，所有 j > i 的键都是“未来”。"
              "生成文本时未来的词还不存在，所以训练时也不许偷看。灰色是被遮住的格子，蓝色是可以看的格子。",
    },
    "attn.masked": {
        "en": "The masked scores: every future cell is set to −∞. The grey upper triangle is −∞: a token may not "
              "look at the future. −∞ is chosen because e^−∞ = 0, so after softmax those cells get exactly zero weight.",
        "zh": "掩码之后的分数：所有未来的格子都被设为 −∞。灰色的上三角就是 −∞：一个词不能看到它后面的词。"
              "之所以用 −∞，是因为 e^−∞ = 0，softmax 之后这些格子的权重正好是 0。",
    },
    "attn.weights": {
        "en": "Softmax turns each row of scores into weights that are ≥ 0 and sum to 1: how token i divides its "
              "attention among tokens 0 … i. The upper triangle is now exactly 0, and the first row is always "
              "a single 1 (the first token can only look at itself). Bright cells show which earlier token each "
              "row relies on.",
        "zh": "softmax 把每一行分数变成非负、且加起来等于 1 的权重：第 i 个词如何把注意力分给第 0 到第 i 个词。"
              "上三角现在正好是 0；第一行永远只有一个 1（第一个词只能看自己）。亮的格子说明这一行主要依赖哪个前面的词。",
    },
    "attn.mixed": {
        "en": "Weights @ V: each output row is a weighted average of the value rows, using that row's attention "
              "weights. A token that puts 0.9 on one earlier token ends up with a vector close to that token's "
              "value. This is where information moves between positions.",
        "zh": "权重 @ V：每一行输出都是 V 各行的加权平均，权重就是这一行的注意力权重。"
              "如果一个词把 0.9 的注意力给了前面某个词，它的输出就很接近那个词的 V。信息正是在这一步在位置之间流动的。",
    },
    "attn.concat": {
        "en": "The heads' outputs are put side by side again: num_heads pieces of d_k numbers make d_model numbers "
              "per position. In the heatmap the columns come in blocks of d_k, one block per head: the first d_k "
              "columns are exactly head 0 of Weights @ V.",
        "zh": "把各个头的输出重新拼接起来：num_heads 份、每份 d_k 个数，拼回每个位置 d_model 个数。"
              "图中的列按 d_k 一组分块，每一块来自一个注意力头：最前面的 d_k 列正是“权重 @ V”里第 0 个头的结果。",
    },
    "attn.out": {
        "en": "The output projection Wo mixes the concatenated heads into one d_model vector per position, so "
              "what different heads found can be combined. This is the attention layer's result, before the "
              "residual connection adds it to the input.",
        "zh": "输出投影 Wo 把拼接后的各头结果混合成每个位置一个 d_model 维向量，让不同头发现的信息可以组合。"
              "这是注意力层的最终输出，下一步通过残差连接加回输入。",
    },
    "resid1": {
        "en": "Residual connection: the attention output is added to the block's input, x + attention(x). The "
              "block only has to learn a correction, and the original signal (and its gradient) passes straight "
              "through. Compare with the block's input: its pattern is still plainly visible.",
        "zh": "残差连接：把注意力的输出加回到这个块的输入上，即 x + attention(x)。这样模型只需学习一个“修正量”，"
              "原来的信号（以及梯度）可以直接穿过。和这个块的输入对比：原来的图案依然清晰可见。",
    },
    "norm1": {
        "en": "LayerNorm rescales each position's vector to mean 0 and standard deviation 1 (then applies a "
              "learned scale and shift). Every row now has a similar range of colours, whatever its size before. "
              "In the post-LN layout of the notebook this comes after the residual; in pre-LN it comes before attention.",
        "zh": "层归一化把每个位置的向量调整为均值 0、标准差 1（再乘以可学习的缩放、加上偏移）。"
              "所以每一行的颜色范围都差不多，不管之前数值多大。笔记本里的 post-LN 放在残差连接之后；pre-LN 则放在注意力之前。",
    },
    "ffn.hidden": {
        "en": "The feed-forward network works on each position separately. Its first layer widens every vector "
              "from d_model to ffn_mult × d_model numbers (4× in the notebook): more room to compute features. "
              "No information moves between positions here.",
        "zh": "前馈网络对每个位置单独计算。第一层把每个向量从 d_model 维扩展到 ffn_mult × d_model 维（笔记本里是 4 倍），"
              "给模型更多空间去计算特征。这里位置之间没有任何信息交流。",
    },
    "ffn.relu": {
        "en": "ReLU keeps positive numbers and sets negative ones to exactly 0. Look for the dark cells: roughly "
              "half the hidden units are switched off for each token, and which ones differ from token to token.",
        "zh": "ReLU 保留正数，把负数变成 0。注意图中深色的格子：每个词大约有一半的隐藏单元被“关掉”，"
              "而且不同的词关掉的单元不一样。",
    },
    "ffn.out": {
        "en": "The second layer of the feed-forward network brings each vector back from ffn_mult × d_model to "
              "d_model numbers, so it can be added to the residual stream. Like the attention output, it is one of "
              "the two corrections a block makes to every token's vector; compare how strong its colours are with "
              "the vector it is added to.",
        "zh": "前馈网络的第二层把每个向量从 ffn_mult × d_model 维压回 d_model 维，这样才能通过残差连接加回主干。"
              "它和注意力的输出一样，是一个块对每个词向量所做的两次“修正”之一；可以比较它和被加上的那个向量的颜色深浅。",
    },
    "resid2": {
        "en": "Second residual connection: the feed-forward output is added to its input, x + ffn(x). "
              "Again the block only adds a correction on top of what was already there: put this heatmap next to "
              "the FFN's input and most of the pattern is still the same.",
        "zh": "第二次残差连接：把前馈网络的输出加回它的输入，即 x + ffn(x)。同样，这个块只是在原有信息上加一个修正："
              "把这张图和前馈网络的输入放在一起看，大部分图案没有变。",
    },
    "norm2": {
        "en": "The second LayerNorm: each position again gets mean 0 and standard deviation 1. In post-LN this is "
              "the output of the block, passed to the next block or to the output layer; in pre-LN it feeds the "
              "feed-forward network.",
        "zh": "第二次层归一化：每个位置再次变成均值 0、标准差 1。post-LN 中这就是整个块的输出，交给下一个块或输出层；"
              "pre-LN 中它是前馈网络的输入。",
    },
    "final.norm": {
        "en": "Pre-LN models never normalise the residual stream itself inside the blocks, so its numbers grow "
              "block after block. One last LayerNorm brings every position back to mean 0 and standard deviation 1 "
              "before the output layer; compare the colour bar with the last residual's.",
        "zh": "pre-LN 模型在块内部从不对残差主干本身做归一化，所以数值会一块比一块大。"
              "在输出层之前，最后一次层归一化把每个位置拉回均值 0、标准差 1；可以和最后一个残差连接的颜色刻度对比一下。",
    },
    "logits": {
        "en": "The output layer turns each position's vector into one score per vocabulary entry: how strongly "
              "the model votes for each possible next token. Scores are unnormalised and can be negative. "
              "Only the most likely columns are drawn; the full table has one column per vocabulary row.",
        "zh": "输出层把每个位置的向量变成词表里每个词一个分数（logits）：模型有多支持这个词作为下一个词。"
              "这些分数没有归一化，可以是负数。图中只画出最可能的那些列，完整的表每个词都有一列。",
    },
    "probs": {
        "en": "Softmax turns each row of logits into a probability distribution over the vocabulary: every row sums "
              "to 1. Row i is the model's guess for the token after position i; the brightest cell is its favourite. "
              "An untrained model spreads its probability almost evenly: read the colour bar, even the "
              "brightest cell is tiny, close to 1 / vocabulary size.",
        "zh": "softmax 把每一行 logits 变成整个词表上的概率分布，每一行加起来等于 1。第 i 行是模型对第 i 个位置之后"
              "下一个词的预测，最亮的格子就是它最看好的词。未训练的模型几乎平均分配概率：看看颜色刻度，"
              "即使最亮的格子数值也很小，接近 1 / 词表大小。",
    },
}

CHAPTER_TEXT: dict[str, dict[str, str]] = {
    "tokens": {
        "en": "A model never sees text, only numbers. The tokenizer (tiktoken cl100k_base, the same one as the "
              "notebook) cuts the text into pieces and gives each piece an id. A leading space is part of the token, "
              "so \"␣the\" and \"the\" are different tokens. Ids the model has no row for become <unk>; with the "
              "character vocabulary every character is its own token.",
        "zh": "模型看不到文字，只看得到数字。分词器（tiktoken 的 cl100k_base，与笔记本相同）把文本切成一个个 token，"
              "每个 token 有一个编号。前导空格也属于 token，所以 “␣the” 和 “the” 是两个不同的 token。"
              "模型词表里没有的编号会变成 <unk>；如果选择字符级词表，每个字符就是一个 token。",
    },
    "embedding": {
        "en": "Each token id becomes a vector of d_model numbers by table lookup, and a fixed sinusoidal vector for "
              "its position is added. After this step the model has one vector per position and knows both "
              "what the token is and where it stands.",
        "zh": "每个 token 编号通过查表变成 d_model 维的向量，再加上表示其位置的固定正弦位置编码。"
              "这一步之后，每个位置都有一个向量，模型既知道这个词是什么，也知道它在哪里。",
    },
    "attention": {
        "en": "Attention is how positions exchange information. Every token asks a question (query), every token "
              "offers an answer (key) and a content (value). Scores compare questions with answers, the causal "
              "mask hides the future, softmax turns scores into weights, and the weights mix the values. "
              "Several heads do this in parallel, each with its own Q, K and V.",
        "zh": "注意力是位置之间交换信息的方式。每个词提出一个问题（查询 Q），也提供一个答案（键 K）和内容（值 V）。"
              "分数比较问题与答案，因果掩码遮住未来，softmax 把分数变成权重，再用权重混合 V。"
              "多个注意力头并行地做这件事，每个头有自己的 Q、K、V。",
    },
    "block": {
        "en": "A Transformer block is attention followed by a feed-forward network, each wrapped in a residual "
              "connection and a LayerNorm. Blocks are stacked: the output of one is the input of the next, with "
              "the same shape [batch, position, d_model] all the way through.",
        "zh": "一个 Transformer 块由注意力和前馈网络组成，两者都带有残差连接和层归一化。"
              "多个块依次堆叠：上一个块的输出就是下一个块的输入，形状始终是 [batch, position, d_model]。",
    },
    "output": {
        "en": "After the last block, a linear layer gives every vocabulary entry a score (logits) and softmax turns "
              "them into probabilities for the next token. Every position predicts its own next token, which is "
              "why one text gives the model many training examples at once.",
        "zh": "最后一个块之后，一个线性层给词表中的每个词打分（logits），softmax 再把分数变成下一个词的概率。"
              "每个位置都预测自己的下一个词，所以一段文本能同时提供很多个训练样本。",
    },
    "step": {
        "en": "Walk through the whole computation one stage at a time, in the order the model runs it. Each stage "
              "shows the tensor's shape, the line of code that computed it and a heatmap of its numbers. "
              "Choose the batch row, block and head to look at.",
        "zh": "按模型的计算顺序，一步一步走完整个过程。每一步都显示张量的形状、计算它的那行代码，以及数值的热力图。"
              "可以选择要看的批次行、块和注意力头。",
    },
    "compare": {
        "en": "Put two versions side by side on the same colour scale: before and after training, with and without "
              "the causal mask, two heads, or two settings of a what-if switch. Equal colours mean equal numbers, "
              "so every difference you see is real.",
        "zh": "把两个版本并排放在同一个颜色刻度上：训练前和训练后、有无因果掩码、两个不同的头，或者“如果……会怎样”开关的两种设置。"
              "颜色相同就代表数值相同，所以看到的差别都是真实的。",
    },
    "train": {
        "en": "Training shows the model random windows of the corpus and nudges every weight to make the true next "
              "token more likely (cross-entropy loss, AdamW). Watch the loss fall from about ln(vocabulary size), "
              "the loss of a uniform guess, and then look at the heatmaps again: the attention patterns change.",
        "zh": "训练时，模型不断看到语料中随机截取的片段，并微调每个权重，让真正的下一个词概率更高（交叉熵损失，AdamW 优化器）。"
              "观察损失从大约 ln(词表大小)（均匀乱猜时的损失）开始下降，然后再看看热力图：注意力的模式变了。",
    },
    "generate": {
        "en": "Generation repeats one step: run the model on the text so far, take the probabilities at the last "
              "position, pick one token, append it, and go again. Temperature sharpens (< 1) or flattens (> 1) the "
              "distribution; top-k and top-p cut off the unlikely tail before sampling.",
        "zh": "生成就是不断重复一步：把已有文本输入模型，取最后一个位置的概率，选出一个词，接到文本后面，再继续。"
              "温度小于 1 让分布更尖锐，大于 1 让分布更平坦；top-k 和 top-p 在采样前去掉不太可能的长尾。",
    },
}

UI: dict[str, dict[str, str]] = {
    # common controls
    "language": {"en": "Language", "zh": "语言"},
    "shape": {"en": "shape", "zh": "形状"},
    "code": {"en": "code", "zh": "代码"},
    "explanation": {"en": "explanation", "zh": "解释"},
    "block": {"en": "block", "zh": "块"},
    "head": {"en": "head", "zh": "头"},
    "heads": {"en": "heads", "zh": "注意力头"},
    "batch row": {"en": "batch row", "zh": "批次行"},
    "stage": {"en": "stage", "zh": "步骤"},
    "temperature": {"en": "temperature", "zh": "温度"},
    "top-k": {"en": "top-k", "zh": "top-k"},
    "top-p": {"en": "top-p", "zh": "top-p"},
    "seed": {"en": "seed", "zh": "随机种子"},
    "download CSV": {"en": "download CSV", "zh": "下载 CSV"},
    "download NPY": {"en": "download .npy", "zh": "下载 .npy"},
    "download PNG": {"en": "download PNG (camera icon on the figure)", "zh": "下载 PNG（图上的相机图标）"},
    "masked": {"en": "masked", "zh": "已遮住"},
    "visible": {"en": "visible", "zh": "可见"},
    "next token": {"en": "next token", "zh": "下一个词"},
    "what if": {"en": "what if", "zh": "如果……会怎样"},
    "previous": {"en": "previous", "zh": "上一步"},
    "next": {"en": "next", "zh": "下一步"},
    "input text": {"en": "input text", "zh": "输入文本"},
    "input token": {"en": "input token", "zh": "输入词"},
    "token": {"en": "token", "zh": "词"},
    "token id": {"en": "token id", "zh": "token 编号"},
    "unknown token": {"en": "unknown token (<unk>): the model never saw this id", "zh": "未知词（<unk>）：模型从未见过这个编号"},
    "probability": {"en": "probability", "zh": "概率"},
    "loss": {"en": "loss", "zh": "损失"},
    "value": {"en": "value", "zh": "数值"},
    "dimension": {"en": "dimension", "zh": "维度"},
    "before": {"en": "before", "zh": "之前"},
    "after": {"en": "after", "zh": "之后"},
    "mean before": {"en": "mean before", "zh": "之前均值"},
    "std before": {"en": "std before", "zh": "之前标准差"},
    "mean after": {"en": "mean after", "zh": "之后均值"},
    "std after": {"en": "std after", "zh": "之后标准差"},
    "zero fraction": {"en": "exactly zero after ReLU", "zh": "ReLU 之后正好为 0 的比例"},
    "train": {"en": "train", "zh": "训练"},
    "generate": {"en": "generate", "zh": "生成"},
    "compare": {"en": "compare", "zh": "对比"},
    "untrained": {"en": "untrained", "zh": "未训练"},
    "trained": {"en": "trained", "zh": "已训练"},
    # figure options
    "show values": {"en": "write the numbers in the cells", "zh": "在格子里显示数值"},
    "all heads": {"en": "all heads", "zh": "所有注意力头"},
    "focus query": {"en": "only the lines of one query", "zh": "只看一个查询的连线"},
    "lines view": {"en": "as lines (who looks at whom)", "zh": "连线图（谁在看谁）"},
    "heatmap view": {"en": "as a heatmap", "zh": "热力图"},
    "dimensions to plot": {"en": "dimensions to plot", "zh": "要画的维度"},
    "image format": {"en": "image download format", "zh": "图片下载格式"},
    "top k shown": {"en": "tokens shown", "zh": "显示的词数"},
    # what-if switches (minigpt.model.Switches)
    "causal_mask": {"en": "causal mask", "zh": "因果掩码"},
    "scale": {"en": "divide by √d_k", "zh": "除以 √d_k"},
    "position_switch": {"en": "positional encoding", "zh": "位置编码"},
    "residual": {"en": "residual connections", "zh": "残差连接"},
    "layer_norm": {"en": "LayerNorm", "zh": "层归一化"},
    "attention temperature": {"en": "attention temperature", "zh": "注意力温度"},
    # axis names (the stage catalogue's axes)
    "batch": {"en": "batch", "zh": "批次"},
    "position": {"en": "position", "zh": "位置"},
    "query": {"en": "query", "zh": "查询"},
    "key": {"en": "key", "zh": "键"},
    "d_model": {"en": "d_model dimension", "zh": "d_model 维度"},
    "d_k": {"en": "d_k dimension", "zh": "d_k 维度"},
    "d_ffn": {"en": "hidden unit", "zh": "隐藏单元"},
    "vocab": {"en": "vocabulary", "zh": "词表"},
    # figure texts
    "vocab_top": {"en": "next token (the {n} most likely of {total:,})", "zh": "下一个词（{total:,} 个中最可能的 {n} 个）"},
    "masked_legend": {"en": "−∞ (masked: the future)", "zh": "−∞（已遮住：未来）"},
    "masked_hover": {"en": "−∞ (masked)", "zh": "−∞（已遮住）"},
    "positional_curves_title": {"en": "Positional encoding: value against position", "zh": "位置编码：数值随位置的变化"},
    "position_similarity_title": {
        "en": "Cosine similarity of position vectors (nearby positions look alike)",
        "zh": "位置向量的余弦相似度（相邻位置更相似）",
    },
    "token_loss_title": {"en": "Loss at each position (cross-entropy with the true next token)",
                         "zh": "每个位置的损失（与真实下一个词的交叉熵）"},
    "uniform_guess": {"en": "uniform guess ln(V) = {loss:.2f}", "zh": "均匀乱猜 ln(V) = {loss:.2f}"},
    "attention_lines_title": {"en": "Who looks at whom", "zh": "谁在看谁"},
    "top_tokens_title": {"en": "Most likely next tokens", "zh": "最可能的下一个词"},
    "model probability": {"en": "model probability", "zh": "模型概率"},
    "sampling probability": {"en": "sampled with (temperature, top-k, top-p)", "zh": "实际采样概率（温度、top-k、top-p 之后）"},
    "batch loss": {"en": "loss of each batch", "zh": "每个批次的损失"},
    "smoothed": {"en": "moving average", "zh": "滑动平均"},
    "train loss": {"en": "train loss (evaluated)", "zh": "训练集损失（评估）"},
    "validation loss": {"en": "validation loss", "zh": "验证集损失"},
    "training step": {"en": "training step", "zh": "训练步数"},
    "attention_over_training_title": {"en": "Attention during training", "zh": "训练过程中的注意力"},
    "loss_curves_title": {"en": "Loss during training", "zh": "训练过程中的损失"},
}


def _lookup(table: dict[str, dict[str, str]], key: str, lang: str) -> str | None:
    entry = table.get(key)
    if entry is None:
        return None
    return entry.get(lang) or entry.get("en")


def t(key: str, lang: str = "en") -> str:
    """A UI string in lang ("en" or "zh"), falling back to English; an unknown key is returned as it is."""
    found = _lookup(UI, key, lang)
    if found is None:
        from .ui_text import SHELL

        found = _lookup(SHELL, key, lang)
    return key if found is None else found


def explain(key: str, lang: str = "en") -> str:
    """The explanation of a stage (catalogue key or full name like `blocks.0.attn.weights`) or a chapter."""
    stage_key = key.split(".", 2)[2] if key.startswith("blocks.") and key.count(".") >= 2 else key
    found = _lookup(STAGE_TEXT, stage_key, lang)
    if found is None:
        found = _lookup(CHAPTER_TEXT, key, lang)
    return key if found is None else found
