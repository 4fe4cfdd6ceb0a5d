"""Strings defined in Python but translated where templates show them.

Templates call ``_(link.label)``, ``_(m.label)``, ``_(role_label)``, ``_(notice)``, the
``field()`` macro's ``_(label)`` / ``_(placeholder)`` / ``_text(error)``, and ``core.errors``
translates its pages' texts: the extractor cannot see those values, so
they are listed here for ``pybabel extract`` (core/locale/babel.cfg). tests/test_i18n.py also
collects them from the running app (menu links, sign-in methods, role labels) and fails when one
has no English translation.
"""


def N_(message: str) -> str:  # noqa: N802 - the conventional name for "mark, don't translate"
    return message


RUNTIME_LABELS = [
    # Roles (core.values.ROLE_LABELS; a plugin's own roles are in its locale/)
    N_("平台运营"), N_("机构管理员"), N_("审核员"), N_("学员"),
    # Menu links (core defaults and tenant plugins)
    N_("我的"), N_("消息"), N_("修改密码"), N_("我的培训"), N_("个人档案"), N_("人脸核验"),
    N_("企业审核"), N_("学员管理"), N_("新闻公告"), N_("证书导入"), N_("证书管理"),
    # Sign-in methods and their fields (core.accounts.signin)
    N_("身份证号登录"), N_("手机号密码登录"), N_("短信验证码登录"),
    N_("身份证号"), N_("18位身份证号"), N_("密码"), N_("手机号"), N_("11位手机号"),
    N_("短信验证码"), N_("6位数字"),
    # Password form fields (core/templates/password.html through the field() macro)
    N_("当前密码"), N_("新密码"), N_("至少8位，包含字母和数字"), N_("再次输入新密码"),
    # Job statuses (core.jobs.controllers.STATUS_LABELS) and the jobs menu link
    N_("排队中"), N_("运行中"), N_("等待重试"), N_("已完成"), N_("失败"), N_("后台任务"),
    # Certificates: menu link, eligibility reasons, certificate and registry row statuses
    N_("学时记录"), N_("学时审核通过后才可获取证书"), N_("在线考核合格后才可获取证书"), N_("尚未生成证书，请先获取证书"), N_("有效"), N_("已作废"),
    N_("待上传"), N_("已上传"), N_("已退回"),
    # Exams: menu links and question types (core.exams.values.KINDS)
    N_("在线考核"), N_("题库管理"), N_("考核记录"), N_("单选"), N_("多选"), N_("判断"),
    # Sign-in refusals (core.accounts.signin, core.accounts.lockout: core.i18n.Text templates)
    N_("账号或密码错误"), N_("%(message)s，还可尝试 %(left)s 次"),
    N_("连续 %(limit)s 次登录失败，账号已被临时锁定，请 %(minutes)s 分钟后再试"),
    N_("尝试过于频繁，请 %(seconds)s 秒后再试"),
    # Field errors of the password form (core.accounts.controllers, the default password rule)
    N_("两次输入的新密码不一致"),
    N_("新密码不能与当前密码相同"),
    N_("密码至少 8 位"),
    N_("密码不能超过 128 位"),
    N_("密码需同时包含字母和数字"),
    # Error pages (core.errors), built outside templates
    N_("页面不存在"),
    N_("您要找的内容不存在或您无权查看。"),
    N_("上传的文件太大"),
    N_("本页一次最多可上传 %(size)s MB（所选文件合计），每张照片不超过 %(photo)s MB。请返回上一页，重新拍摄或选择较小的照片，或分几次上传；手机拍摄的照片可直接上传，系统会自动缩小。"),
    N_("本页一次可上传的文件有上限（所选文件合计），每张照片不超过 %(photo)s MB。请返回上一页，重新拍摄或选择较小的照片，或分几次上传；手机拍摄的照片可直接上传，系统会自动缩小。"),
    N_("不支持该操作"),
    N_("此页面不支持这种访问方式，请从页面上的按钮或链接进入。"),
    N_("无法完成操作"),
    N_("页面已过期或您无权执行此操作，请刷新页面后重试。"),
    N_("请求有误"),
    N_("请求的内容不完整或格式不正确，请返回上一页重新操作。"),
    N_("系统繁忙"),
    N_("系统繁忙，请稍等片刻后刷新页面再试。"),
    N_("系统出错了"),
    N_("服务器处理您的请求时出错，我们已记录此问题。请稍后再试，或返回首页。"),
    N_("返回首页"),
    # Notices passed to templates
    N_("登录已过期，请重新登录"),
    # Review of study hours (core.review: menu, reason codes, deadline states, decisions, timeline)
    N_("学时审核"), N_("替学"), N_("挂机"), N_("无本人抓拍"), N_("其他"), N_("按期"), N_("临期"), N_("已超期"),
    N_("审核通过"), N_("清除学时"), N_("要求重新核验"), N_("申诉成立"), N_("申诉驳回"), N_("申诉处理中"),
    N_("审核清除"), N_("申诉恢复"), N_("通过"), N_("未通过"), N_("未完成"), N_("本人"), N_("异常"),
    N_("人脸核验通过"), N_("抓拍为本人"), N_("抓拍非本人"), N_("抓拍无人脸"), N_("抓拍多人"), N_("缺少抓拍"),
    N_("暂停"), N_("继续"), N_("长时间无操作"), N_("页面切到后台"), N_("设备变化"), N_("标记异常"),
    N_("抓拍画面静止"), N_("抓拍重复使用旧照片"), N_("结束时无抓拍覆盖"), N_("学时已有抓拍覆盖"),
    N_("更换头像或身份证照片"),
    # The case page's session flags (core.review.integrity)
    N_("抓拍超时未上传 %(n)s 次"), N_("抓拍未通过 %(n)s 次：%(reasons)s"), N_("学习结束时没有抓拍覆盖"),
    N_("已撤销未核验学时 %(n)s 秒"), N_("本次学习没有通过核验的抓拍"), N_("%(n)s 秒学时等待抓拍核验"),
    # Studying without the camera (core.proctoring.alternative: timeline, menu, request status)
    N_("无摄像头学习（已批准）"), N_("无摄像头学习申请"), N_("待审批"), N_("已批准"), N_("未批准"),
    N_("学习中"), N_("待审核"), N_("学时已清除"),
    N_("身份证人像面"), N_("身份证国徽面"), N_("个人证件照"),
    # What a timeline entry's figures are called (core.review.timeline)
    N_("原因"), N_("暂停原因"), N_("比对距离"), N_("人脸数"), N_("不一致次数"), N_("计划抓拍次数"),
    N_("确认学时（秒）"), N_("撤回学时（秒）"), N_("超时（秒）"), N_("无操作（秒）"), N_("播放位置（秒）"),
    N_("申请编号"), N_("多次抓拍非本人"), N_("与其他学员人脸相同"),
    # Registry report batch statuses (core.certificates.registry.BATCH_STATUS_LABELS)
    N_("正在导出"), N_("已导出，待导入结果"), N_("已导入结果"), N_("生成失败"),
    # 账号管理 (core.accounts.staff_pages: menu, form fields, notices)
    N_("账号管理"), N_("姓名"), N_("初始密码"),
    N_("账号已创建，初始密码须在首次登录时修改。"), N_("已保存。"), N_("账号已停用，该账号的登录已全部失效。"),
    N_("账号已启用。"), N_("密码已重置为本机构的初始密码，学员下次登录时须修改。"), N_("已更正，并记入审计日志。"),
    # Bulk approval, 审核工作量 and 审核记录 (core.review.bulk, workload, decisions)
    N_("有异常标记，须逐条审核"), N_("有待复核的清除决定"), N_("已要求重新核验"),
    N_("有抓拍异常的学习记录，须逐条审核"), N_("学习期间更换过头像或身份证照片，须逐条审核"),
    N_("不在本机构的待审核学时中"), N_("该学员的学时不在待审核状态"), N_("已有待复核的清除决定，请先由另一位审核员复核"),
    N_("提交的审核清单无效，请返回学时审核重新选择"), N_("没有可批量通过的学时"), N_("只有在用的审核员可以批量审核"),
    N_("近 7 天"), N_("近 30 天"), N_("近 90 天"), N_("近一年"), N_("审核通过"), N_("提出清除"), N_("复核清除"),
    N_("要求重新核验"), N_("处理申诉"), N_("按期"), N_("临期"), N_("已超期"), N_("未学完"),
    N_("清除学时"), N_("申诉成立"), N_("申诉驳回"), N_("待复核"), N_("已生效"), N_("复核未同意"), N_("已撤回"),
    N_("审核工作量"), N_("操作日志"),
    # 操作日志's action names (core.audit.viewer.ACTION_LABELS)
    N_("登录"), N_("登录锁定"), N_("添加工作人员"), N_("修改工作人员"), N_("启用工作人员"), N_("重置学员密码"),
    N_("更正手机号"), N_("更正学员信息"), N_("导入学员"), N_("关联名册"), N_("上传证件照片"), N_("新建岗位"),
    N_("新建课程"), N_("修改课程"), N_("新建课件"), N_("删除课件"), N_("重新转码课件视频"), N_("调整课件顺序"), N_("报名课程"),
    N_("学习异常"), N_("人脸核验通过"), N_("人脸核验未通过"), N_("人脸核验未完成"), N_("同意人脸核验"),
    N_("撤回人脸核验同意"), N_("申请无摄像头学习"), N_("批准无摄像头学习"), N_("拒绝无摄像头学习"), N_("提交申诉"),
    N_("提交考核"), N_("导入题库"), N_("新增试题"), N_("修改试题"), N_("停用试题"), N_("颁发证书"), N_("补发证书"),
    N_("批量打印证书"), N_("学时上报"), N_("导入上报结果"), N_("申请重新上报"), N_("导出数据"),
    # 课程管理's edits (core.courses.editing: refusals shown at the lessons and fields)
    N_("课件不存在"), N_("该课件已有学员的学习记录，不能删除"), N_("课程信息已保存"), N_("课件已删除"),
    N_("该课件不是转码失败的视频，无需重新转码"), N_("已重新开始转码"),
    # Question-bank import: the fields a column can be read as (core.exams.mapping.FIELD_LABELS)
    N_("题型"), N_("题干"), N_("选项（一格内全部选项）"), N_("选项A"), N_("选项B"), N_("选项C"), N_("选项D"),
    N_("选项E"), N_("选项F"), N_("选项G"), N_("选项H"), N_("答案"), N_("解析"), N_("分值"), N_("难度"),
    N_("章节/知识点"), N_("是否启用"), N_("阅读材料（共用题干）"), N_("图片"),
    N_("批量停用试题"), N_("批量启用试题"), N_("批量删除试题"),
    # Dashboards (core.dashboards and the survey association's panel: titles, columns, fixed row labels)
    N_("数据看板"), N_("审核看板"), N_("学习进度按岗位"), N_("学习进度按单位"), N_("学习进度按课程"), N_("岗位"), N_("单位"), N_("课程"), N_("报名"),
    N_("学习中"), N_("待审核"), N_("审核通过"), N_("学时已清除"), N_("考核合格"), N_("已发证"), N_("已上报"), N_("学习进度"), N_("学习情况"),
    N_("学时审核"), N_("在线考核"), N_("各岗位考核合格率"), N_("交卷次数"), N_("合格次数"), N_("合格率（％）"), N_("成绩分布（占总分）"), N_("成绩段"),
    N_("第几次考核合格"), N_("合格人次"), N_("正在学习的学员"), N_("项目"), N_("人数"), N_("正在学习（5 分钟内有学习记录）"), N_("标记待查的报名"),
    N_("每日计入学时（近 30 天）"), N_("日期"), N_("学时"), N_("人脸核验通过率"), N_("核验"), N_("通过"), N_("未通过"), N_("通过率（％）"),
    N_("学习前核验"), N_("学习中抓拍"), N_("抓拍结果与异常标记"), N_("结果"), N_("次数"), N_("待审核与承诺时限"), N_("状态"), N_("待审核按工作日"),
    N_("已等待工作日"), N_("其中已超期"), N_("审核员的审核决定"), N_("审核员"), N_("清除学时"), N_("要求重新核验"), N_("申诉成立"), N_("申诉驳回"),
    N_("清除与申诉"), N_("数量"), N_("清除待复核"), N_("已清除"), N_("复核未同意"), N_("申诉处理中"), N_("按期"), N_("临期"), N_("已超期"),
    N_("我近 30 天的审核决定"), N_("决定"), N_("各培训机构"), N_("培训机构"), N_("学员"), N_("正在学习"), N_("本年计入学时"), N_("有效证书"),
    N_("短信发送"), N_("已发送"), N_("发送失败"), N_("待发送"), N_("后台任务队列"), N_("任务数"), N_("筛选条件"), N_("全部年度"), N_("年度"),
    N_("会员企业"), N_("会员企业与人员"), N_("已完成"), N_("未完成"), N_("企业认证"), N_("证书确认"), N_("学员加入"),
    N_("企业认证：企业审核通过；证书确认：企业已确认的人员证书；学员加入：花名册中已加入的学员。不按年度、课程筛选。"),
]
